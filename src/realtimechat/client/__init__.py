"""The chat client: a connection to a server, and the ways to show it."""
