"""Organizers write updates for their campaigns and see the counted shares."""

from django.db import migrations

GRANTS = {"update": ["add", "change", "delete", "view"], "sharecount": ["view"]}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    organizers, _created = Group.objects.get_or_create(name="Organizers")
    organizers.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="campaigns",
            codename__in=[f"{action}_{model}" for model, actions in GRANTS.items() for action in actions],
        )
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    organizers = Group.objects.filter(name="Organizers").first()
    if organizers:
        organizers.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="campaigns", content_type__model__in=list(GRANTS)
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("campaigns", "0005_shares_and_updates"),
        ("donations", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
