"""The JSON API: the pipeline's commands and the bids' queries over HTTP (`/api/v1`)."""
