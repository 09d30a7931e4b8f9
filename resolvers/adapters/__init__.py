"""What the operations use from outside the database: the rate limiter
(memory or Redis) and the services container that carries it all."""
