"""The REST API (Django REST framework): the returns system posts events and reads messages."""
