"""Transform stage: the dbt project (staging, intermediate, marts) as assets and checks."""
