"""REST adapters: connexion binds each operationId of openapi/openapi.yaml to a function here.

Handlers only translate between HTTP and the service layer; they hold no business logic.
"""
