"""The workspace administrators' pages: users and invitations, roles, teams, security settings, audit log."""
