"""Reports stage: SHAP, feature selection and dataset coverage."""
