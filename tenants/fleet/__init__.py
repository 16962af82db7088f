"""The fleet of workspace schemas: how they are built (a DDL script replayed per schema), migrated (all at once,
rendered once) and compared. Nothing here may cost in proportion to the number of workspaces per request."""
