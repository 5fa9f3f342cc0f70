"""The customer's questionnaire and the answer library it draws on."""
