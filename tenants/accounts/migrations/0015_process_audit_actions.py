from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0014_manage_processes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('login', 'Logged in'), ('login_failed', 'Failed login'), ('logout', 'Logged out'), ('lockout', 'Locked out'), ('unlock', 'Unlocked'), ('password_changed', 'Password changed'), ('profile_changed', 'Profile changed'), ('2fa_enabled', 'Two-factor authentication on'), ('2fa_disabled', 'Two-factor authentication off'), ('2fa_codes_issued', 'Recovery codes issued'), ('2fa_code_used', 'Recovery code used'), ('2fa_requirement', 'Two-factor requirement changed'), ('workspace_settings', 'Workspace settings changed'), ('invitation_sent', 'Invitation sent'), ('invitation_revoked', 'Invitation revoked'), ('invitation_accepted', 'Invitation accepted'), ('user_changed', "User's role or team changed"), ('user_deactivated', 'User deactivated'), ('user_reactivated', 'User reactivated'), ('role_created', 'Role created'), ('role_changed', 'Role changed'), ('role_deleted', 'Role deleted'), ('team_created', 'Team created'), ('team_changed', 'Team changed'), ('team_deleted', 'Team deleted'), ('records_transferred', 'Records transferred'), ('export', 'Export'), ('api_key_created', 'API key created'), ('api_key_revoked', 'API key revoked'), ('record_deleted', 'Record deleted'), ('records_merged', 'Records merged'), ('integration_created', 'Integration connected'), ('integration_changed', 'Integration changed'), ('integration_deleted', 'Integration removed'), ('process_created', 'Process created'), ('process_changed', 'Process changed'), ('process_deleted', 'Process deleted')], max_length=32, verbose_name='action'),
        ),
    ]
