"""The kinds of account, apart from the models: the CLI lists them in its help without
loading the ORM."""

ACCOUNT_TYPES = (
    "kimono",
    "education_agency",
    "developer",
    "personal",
    "state_education_agency",
    "partner",
    "higher_ed",
)
OPERATOR_TYPE = "kimono"
