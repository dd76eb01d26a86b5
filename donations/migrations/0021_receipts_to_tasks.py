from django.db import migrations
from django.utils import timezone


def claims_of_the_old_loop_to_the_queue(apps, schema_editor):
    """Receipts claimed by `send_receipts --loop` when it stopped for the upgrade go back to
    the queue, due now; the task worker's sweep enqueues every due receipt when it starts."""
    receipt = apps.get_model("donations", "Receipt")
    receipt.objects.filter(status="sending").update(
        status="queued", claimed_at=None, next_attempt_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("donations", "0020_inbox")]

    operations = [migrations.RunPython(claims_of_the_old_loop_to_the_queue, migrations.RunPython.noop)]
