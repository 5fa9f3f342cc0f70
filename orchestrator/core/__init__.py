"""The pure core: values and policies with no database, Prefect, Slack, docx or typer import."""
