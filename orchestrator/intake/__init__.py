"""Reading what users hand in (YAML, CSV) into typed, validated values."""
