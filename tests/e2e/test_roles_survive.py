"""The roles that the data migration made are there again after the browser tests' flushes.

Browser tests are transactional: each ends by emptying every table, the Organizers and
Volunteers groups of donations/migrations/0002_roles.py included. `serialized_rollback`
loads the migrated rows back before each such test. This one runs after all of them (the
folder's conftest orders it so) and checks that the roles came back whole.
"""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_roles_from_the_data_migration_are_back_after_the_browser_tests():
    organizers = Group.objects.get(name="Organizers")
    assert Group.objects.filter(name="Volunteers").exists()
    assert organizers.permissions.filter(codename="change_campaign").exists()
    assert not organizers.permissions.filter(codename="change_user").exists()
