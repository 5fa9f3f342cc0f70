"""The document renderer (docxtpl, openpyxl) and the plain contexts it renders."""
