"""API base: token auth, the scope-and-role permission, pagination, errors, read audit."""
