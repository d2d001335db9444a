"""Automation across stages: the sensor that refreshes dbt, training and reports after new data lands."""
