"""What both backends do alike through SQLAlchemy Core: no SQL text, no backend
names."""
