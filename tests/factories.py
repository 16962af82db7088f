"""factory-boy factories for CRM records. They write rows directly (test data), not through the services;
tests of the services call the services."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline, Stage
from crm.leads.models import Lead
from crm.products.models import Product
from crm.search.services import search_index_update
from tenants.accounts.models import User
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tests.conftest import PASSWORD


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    # Like a person added by user_create: a sales manager, who sees what they own.
    role = factory.LazyFunction(lambda: builtin_role(SALES_MANAGER))
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class _Indexed(factory.django.DjangoModelFactory):
    """Keeps the search index in step, as the services do."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        super()._after_postgeneration(instance, create, results)
        if create:
            search_index_update(cls._record_type, instance)


class CompanyFactory(_Indexed):
    _record_type = RecordType.COMPANY

    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n} LLC")
    tax_id = factory.Sequence(lambda n: f"77{n:08d}")
    industry = "Manufacturing"


class ContactFactory(_Indexed):
    _record_type = RecordType.CONTACT

    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.SubFactory(CompanyFactory)
    emails = factory.Sequence(lambda n: [f"person{n}@example.com"])
    phones = factory.Sequence(lambda n: [f"+7916{n:07d}"])


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Pipeline {n}")

    @factory.post_generation
    def stages(obj, create, extracted, **kwargs):
        if not create:
            return
        names = extracted or [("New", "open"), ("Proposal", "open"), ("Won", "won"), ("Lost", "lost")]
        for i, (name, outcome) in enumerate(names, start=1):
            Stage.objects.create(pipeline=obj, name=name, position=i, outcome=outcome, probability=i * 10)


class DealFactory(_Indexed):
    _record_type = RecordType.DEAL

    class Meta:
        model = Deal

    title = factory.Sequence(lambda n: f"Deal {n}")
    company = factory.SubFactory(CompanyFactory)
    pipeline = factory.LazyFunction(lambda: Pipeline.objects.order_by("position", "id").first())
    stage = factory.LazyAttribute(lambda o: o.pipeline.stages.filter(outcome="open").order_by("position").first())
    amount = Decimal("1000.00")
    currency = "RUB"


class LeadFactory(_Indexed):
    _record_type = RecordType.LEAD

    class Meta:
        model = Lead

    title = factory.Sequence(lambda n: f"Website request {n}")
    contact_name = factory.Faker("name")
    company_name = factory.Sequence(lambda n: f"Prospect {n} Ltd")
    email = factory.Sequence(lambda n: f"lead{n}@prospect.test")
    source = "website"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("100.00")
    currency = "RUB"
    vat_rate = Decimal("20")


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    kind = Activity.Kind.TASK
    subject = factory.Sequence(lambda n: f"Call back {n}")
    due_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=1))
