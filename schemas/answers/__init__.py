"""Answer models of the REST API: what each route returns, one module per area.

Request bodies stay in schemas/api.py, schemas/definitions_api.py and
schemas/security_api.py; these are the other direction. FastAPI validates a handler's
dict through its route's model and publishes the model in /openapi.json, so a typed
client can be generated from it (issue 16). Field names are the ones the routes
answered before the models existed: a model that drops or renames one is wrong.
"""
