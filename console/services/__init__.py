"""Business rules of the console, one concern per module (crud.py keeps the data access)."""
