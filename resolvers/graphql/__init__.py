"""The GraphQL side: Strawberry types, the schema, loaders, selection
helpers, the execution fast path, the request context and subscriptions."""
