"""The GraphQL edge: Strawberry's view with the gateway's HTTP semantics.

Modules, by what they hold: ``view`` (the ASGI view wiring it together),
``schema`` (the schema and its protective extensions), ``http_semantics``
(content negotiation, statuses, the GraphQL-over-HTTP error shape),
``uploads`` (multipart admission and spooling), ``websocket`` (auth at
``connection_init``, token expiry, connection caps), ``json_input`` (the one
guarded JSON decoder of every transport), ``persisted_queries`` and
``graphiql``. Nothing here imports the REST edge (app/rest).
"""
