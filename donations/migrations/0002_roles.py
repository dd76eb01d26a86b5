"""Create the Organizers and Volunteers groups with exactly their rights (CONTRACTS.md, Roles).

Organizers edit campaign content, see donations and moderate them, manage offline entries,
volunteer assignments and exchange rates, and see receipts and the export log. They get no
right over user accounts (that would let them grant themselves anything) and cannot delete
campaigns or donations. Volunteers get no model rights at all: their cash pages check their
assignments, not admin permissions.
"""

from django.db import migrations

ORGANIZER_PERMISSIONS = {
    "campaigns": {
        "campaign": ["add", "change", "view"],
        "storysection": ["add", "change", "delete", "view"],
        "teammember": ["add", "change", "delete", "view"],
    },
    "donations": {
        "donation": ["change", "view"],
        "exchangerate": ["add", "change", "view"],
        "volunteerassignment": ["add", "change", "delete", "view"],
        "receipt": ["view"],
        "donationchange": ["view"],
        "exportlog": ["view"],
        "stripeevent": ["view"],
    },
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    organizers, _ = Group.objects.get_or_create(name="Organizers")
    codenames = [
        (app_label, f"{action}_{model}")
        for app_label, models in ORGANIZER_PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]
    permissions = [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in codenames
    ]
    organizers.permissions.set(permissions)
    Group.objects.get_or_create(name="Volunteers")


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Organizers", "Volunteers"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("campaigns", "0001_initial"),
        ("donations", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
