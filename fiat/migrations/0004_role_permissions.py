"""The cash-out pages for the staff roles (withdrawals_site/roles.py ROLE_ACCESS; docs/ROLES.md):
Treasury reads fiat withdrawals, payment batches, statements, quotes and sells and exports payment
files; Compliance reads bank accounts (the review queue) and fiat withdrawals; Operations checkers
read fiat withdrawals and bank accounts. Decisions stay on the work orders."""

from django.db import migrations

GRANTS = {
    "Treasury": ["view_fiatwithdrawal", "view_paymentbatch", "view_bankstatement", "view_statementline",
                 "view_quote", "view_sell", "export_paymentbatch", "import_bankstatement"],
    "Compliance": ["view_bankaccount", "view_bankaccountreviewitem", "view_fiatwithdrawal", "view_statementline"],
    "Operations checkers": ["view_fiatwithdrawal", "view_bankaccount"],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    app_config = apps.get_app_config("fiat")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    for name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="fiat", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("fiat", "0003_cashout"),
        ("withdrawals_site", "0004_tax_and_deposit_permissions"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
