"""Organizers see and moderate the monthly gifts of their campaigns, and their history."""

from django.db import migrations

GRANTS = {"monthlygift": ["change", "view"], "monthlygiftchange": ["view"]}


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
            content_type__app_label="donations",
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
                content_type__app_label="donations", content_type__model__in=list(GRANTS)
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("donations", "0015_monthly_gifts"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
