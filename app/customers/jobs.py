"""Customer import jobs (CSV); see importer.py."""
