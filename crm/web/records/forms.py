"""Forms of the record pages. They only parse what was typed; the services validate and their errors come
back as field errors (see `crm.web.records.common.show_errors`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.core import formats
from crm.core.money import CURRENCY_CHOICES, workspace_currency
from crm.customfields.models import CustomField
from crm.deals.models import Deal, Pipeline, Stage
from crm.leads.models import Lead
from crm.web.fields import LocalizedDecimalField, LocalizedIntegerField
from tenants.accounts.selectors import active_users

CF_PREFIX = "cf_"
# Selects list at most this many records; the current value is always among them.
PICKER_CAP = 200

_EMPTY = [("", "—")]


def _lines(values: Iterable[str]) -> str:
    return "\n".join(values)


def _text(**attrs: Any) -> forms.CharField:
    return forms.CharField(required=False, **attrs)


def _area(rows: int = 3, **kwargs: Any) -> forms.CharField:
    return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": rows}), **kwargs)


def user_choices() -> list[tuple[str, str]]:
    return [(str(u.pk), u.get_full_name()) for u in active_users()]


def drop_unseen_link(form: forms.Form, name: str, queryset: QuerySet[Any], current: Model | None) -> bool:
    """Leave out the link field `name` when it points at a record the user may not see: its name stays
    private, and since the field is not sent, saving the form keeps the link as it is."""
    if current is None or name not in form.fields or queryset.filter(pk=current.pk).exists():
        return False
    del form.fields[name]
    return True


def picker_url(kind: str) -> str:
    """The endpoint that searches records (or people) of `kind` as the user types (crm/web/records/pickers.py)."""
    return reverse(f"pick:{kind}")


def searchable(field: forms.Field, kind: str) -> forms.Field:
    """Make the field's select a combobox that asks the server for the options matching what is typed."""
    field.widget.attrs["data-picker"] = picker_url(kind)
    field.widget.attrs["data-picker-remove"] = str(_("Remove"))
    return field


def _sent_ids(form: forms.Form | None, name: str) -> list[int]:
    if form is None or not form.is_bound:
        return []
    key = form.add_prefix(name)
    values = form.data.getlist(key) if hasattr(form.data, "getlist") else [form.data.get(key)]
    return [int(v) for v in values if isinstance(v, str) and v.isdigit() and len(v) < 12]


def picker(
    field: forms.ModelChoiceField,
    queryset: QuerySet[Any],
    current: Iterable[Model] = (),
    *,
    kind: str = "",
    form: forms.Form | None = None,
    name: str = "",
) -> None:
    """Render at most PICKER_CAP options (plus the current ones and those just sent) while still validating
    against the whole visible queryset (`field.queryset`), so a workspace with thousands of companies does not
    make a page of thousands of options. With `kind`, the select searches the server as the user types."""
    shown = list(queryset[:PICKER_CAP])
    known = {o.pk for o in shown}
    shown += [o for o in current if o is not None and o.pk not in known]
    known |= {o.pk for o in shown}
    if (sent := [pk for pk in _sent_ids(form, name) if pk not in known]) and field.queryset is not None:
        shown += list(field.queryset.filter(pk__in=sent))
    options = [(o.pk, str(o)) for o in shown]
    field.widget.choices = options if isinstance(field, forms.ModelMultipleChoiceField) else _EMPTY + options
    if kind:
        searchable(field, kind)


# --- custom fields -------------------------------------------------------------------------------------------


class MoneyWidget(forms.MultiWidget):
    def __init__(self) -> None:
        super().__init__(
            [
                forms.TextInput(attrs={"inputmode": "decimal", "size": 12, "autocomplete": "off"}),
                forms.Select(choices=_EMPTY + CURRENCY_CHOICES),
            ]
        )

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [formats.input_number(value.get("amount"), decimals=2), value.get("currency")]
        return [None, None]


class MoneyField(forms.MultiValueField):
    widget = MoneyWidget

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            fields=(LocalizedDecimalField(required=False, money=True), forms.CharField(required=False)),
            require_all_fields=False,
            required=False,
            **kwargs,
        )

    def compress(self, data_list: Sequence[Any]) -> dict[str, str] | None:
        amount, currency = [*data_list, None, None][:2]
        if amount is None or amount == "":
            return None
        if not currency:
            raise forms.ValidationError(_("Choose a currency."), code="currency_missing")
        return {"amount": amount, "currency": currency or ""}


def _custom_form_field(definition: CustomField, users: list[tuple[str, str]]) -> forms.Field:
    kind = CustomField.Type
    label = definition.label
    choices = [(c, c) for c in definition.choices]
    field_type = definition.field_type
    if field_type == kind.LONG_TEXT:
        return _area(label=label)
    if field_type == kind.NUMBER:
        return LocalizedDecimalField(label=label, required=False)
    if field_type == kind.MONEY:
        return MoneyField(label=label)
    if field_type == kind.DATE:
        return _text(label=label, widget=forms.DateInput(attrs={"type": "date"}))
    if field_type == kind.BOOLEAN:
        return forms.NullBooleanField(label=label, required=False)
    if field_type == kind.CHOICE:
        return forms.ChoiceField(label=label, required=False, choices=_EMPTY + choices)
    if field_type == kind.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            label=label, required=False, choices=choices, widget=forms.CheckboxSelectMultiple
        )
    if field_type == kind.LINK:
        return _text(label=label, widget=forms.URLInput())
    if field_type == kind.USER:
        return searchable(forms.ChoiceField(label=label, required=False, choices=_EMPTY + users), "users")
    return _text(label=label)


class RecordForm(forms.Form):
    """A form with the workspace's custom fields of one record type appended as `cf_<key>` fields.

    Fields the user's role hides (`hidden`: field names and "cf:<key>") are left out of the form, so they are
    neither shown nor sent: saving the form leaves their values as they are."""

    def __init__(
        self,
        *args: Any,
        custom_fields: Sequence[CustomField] = (),
        custom_values: dict[str, Any] | None = None,
        users: list[tuple[str, str]] | None = None,
        hidden: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.users = users if users is not None else []
        for name in hidden & set(self.fields):
            del self.fields[name]
        self.custom_definitions = [d for d in custom_fields if f"cf:{d.key}" not in hidden]
        for definition in self.custom_definitions:
            name = CF_PREFIX + definition.key
            self.fields[name] = _custom_form_field(definition, self.users)
            self.fields[name].required = False
            if definition.is_required:
                self.fields[name].label = f"{definition.label} *"
            value = (custom_values or {}).get(definition.key)
            if value is not None:
                if definition.field_type == CustomField.Type.USER:
                    value = str(value)
                elif definition.field_type == CustomField.Type.NUMBER:
                    value = formats.input_number(value)
                self.initial[name] = value

    @property
    def standard_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.fields if not n.startswith(CF_PREFIX)]

    @property
    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.fields if n.startswith(CF_PREFIX)]

    def custom_values(self) -> dict[str, Any]:
        return {d.key: self.cleaned_data.get(CF_PREFIX + d.key) for d in self.custom_definitions}

    def record_data(self, *, skip: Iterable[str] = (), drop_empty: bool = False) -> dict[str, Any]:
        """What goes to the service: the standard fields (minus `skip`) and `custom_fields`."""
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if not name.startswith(CF_PREFIX) and name not in {"version", *skip}
        }
        if drop_empty:
            data = {k: v for k, v in data.items() if v not in (None, "", [])}
        if self.custom_definitions:
            data["custom_fields"] = self.custom_values()
        return data


class VersionedForm(RecordForm):
    # The version the user edited; a concurrent change in the meantime is reported instead of overwritten.
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


# --- companies and contacts ----------------------------------------------------------------------------------


class CompanyForm(VersionedForm):
    name = _text(label=_("Name"), max_length=255)
    legal_name = _text(label=_("Legal name"))
    tax_id = _text(label=_("Tax id (INN / VAT no.)"))
    registration_id = _text(label=_("Registration id"))
    phones = _area(2, label=_("Phones"), help_text=_("One per line."))
    emails = _area(2, label=_("Emails"), help_text=_("One per line."))
    website = _text(label=_("Website"))
    industry = _text(label=_("Industry"))
    source = _text(label=_("Source"))
    legal_address = _area(2, label=_("Legal address"))
    actual_address = _area(2, label=_("Actual address"))
    tags = _text(label=_("Tags"), help_text=_("Separated by commas."))
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    notes = _area(4, label=_("Notes"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _EMPTY + self.users  # type: ignore[attr-defined]
        searchable(self.fields["owner"], "users")


def company_initial(company: Company) -> dict[str, Any]:
    return {
        **{n: getattr(company, n) for n in ("name", "legal_name", "tax_id", "registration_id", "website")},
        **{n: getattr(company, n) for n in ("industry", "source", "legal_address", "actual_address", "notes")},
        "phones": _lines(company.phones),
        "emails": _lines(company.emails),
        "tags": ", ".join(company.tags),
        "owner": company.owner_id,
        "version": company.version,
    }


class ContactForm(VersionedForm):
    first_name = _text(label=_("First name"))
    middle_name = _text(label=_("Middle name"))
    last_name = _text(label=_("Last name"))
    position = _text(label=_("Position"))
    company = forms.ModelChoiceField(label=_("Company"), required=False, queryset=Company.objects.none())
    phones = _area(2, label=_("Phones"), help_text=_("One per line."))
    emails = _area(2, label=_("Emails"), help_text=_("One per line."))
    consent_to_contact = forms.BooleanField(label=_("Consents to be contacted"), required=False)
    tags = _text(label=_("Tags"), help_text=_("Separated by commas."))
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    notes = _area(4, label=_("Notes"))

    def __init__(self, *args: Any, companies: QuerySet[Company], current: Company | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _EMPTY + self.users  # type: ignore[attr-defined]
        searchable(self.fields["owner"], "users")
        if drop_unseen_link(self, "company", companies, current):
            return
        company_field = self.fields["company"]
        assert isinstance(company_field, forms.ModelChoiceField)
        company_field.queryset = companies
        picker(
            company_field,
            companies.order_by("name"),
            [current] if current else [],
            kind="companies",
            form=self,
            name="company",
        )

    def record_data(self, *, skip: Iterable[str] = (), drop_empty: bool = False) -> dict[str, Any]:
        data = super().record_data(skip=skip, drop_empty=drop_empty)
        if "company" in data:
            data["company"] = data["company"].pk if data["company"] else None
        return data


def contact_initial(contact: Contact) -> dict[str, Any]:
    return {
        **{n: getattr(contact, n) for n in ("first_name", "middle_name", "last_name", "position", "notes")},
        "company": contact.company_id,
        "phones": _lines(contact.phones),
        "emails": _lines(contact.emails),
        "consent_to_contact": contact.consent_to_contact,
        "tags": ", ".join(contact.tags),
        "owner": contact.owner_id,
        "version": contact.version,
    }


class MergeForm(forms.Form):
    other = forms.IntegerField(widget=forms.HiddenInput)
    keep = forms.ChoiceField(choices=[("this", "this"), ("other", "other")], widget=forms.RadioSelect)


# --- deals -------------------------------------------------------------------------------------------------


class DealForm(VersionedForm):
    amount_from_items = False
    title = _text(label=_("Title"), max_length=255)
    company = forms.ModelChoiceField(label=_("Company"), required=False, queryset=Company.objects.none())
    contacts = forms.ModelMultipleChoiceField(
        label=_("Contacts"),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several."),
        required=False,
        queryset=Contact.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    pipeline = forms.ModelChoiceField(label=_("Pipeline"), required=False, queryset=Pipeline.objects.none())
    stage = forms.ModelChoiceField(label=_("Stage"), required=False, queryset=Stage.objects.none())
    amount = LocalizedDecimalField(label=_("Amount"), required=False, decimal_places=2, max_digits=16, money=True)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial=workspace_currency)
    expected_close_date = forms.DateField(
        label=_("Expected close date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    lost_reason = _text(label=_("Lost reason"), help_text=_("Required when the deal is moved to a lost stage."))
    tags = _text(label=_("Tags"), help_text=_("Separated by commas."))

    def __init__(
        self,
        *args: Any,
        companies: QuerySet[Company],
        contacts: QuerySet[Contact],
        deal: Deal | None = None,
        company: Company | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _EMPTY + self.users  # type: ignore[attr-defined]
        searchable(self.fields["owner"], "users")
        current_company = deal.company if deal else company
        if drop_unseen_link(self, "company", companies, current_company):
            current_company = None
        else:
            company_field = self.fields["company"]
            assert isinstance(company_field, forms.ModelChoiceField)
            company_field.queryset = companies
            picker(
                company_field,
                companies.order_by("name"),
                [current_company] if current_company else [],
                kind="companies",
                form=self,
                name="company",
            )
        contacts_field = self.fields["contacts"]
        assert isinstance(contacts_field, forms.ModelMultipleChoiceField)
        contacts_field.queryset = contacts
        # The deal's contacts the user may not see are neither listed nor dropped on save.
        current_contacts = list(deal.contacts.all()) if deal else []
        seen = set(contacts.filter(pk__in=[c.pk for c in current_contacts]).values_list("pk", flat=True))
        self.kept_contact_ids = [c.pk for c in current_contacts if c.pk not in seen]
        if self.kept_contact_ids and isinstance(self.initial.get("contacts"), list):
            self.initial["contacts"] = [pk for pk in self.initial["contacts"] if pk in seen]
        # Contacts of the deal's company first: those are the people a deal is usually about.
        shown = contacts.order_by("last_name", "first_name")
        if current_company is not None:
            shown = shown.filter(company=current_company)
        picker(
            contacts_field,
            shown,
            [c for c in current_contacts if c.pk in seen],
            kind="contacts",
            form=self,
            name="contacts",
        )
        pipeline_field, stage_field = self.fields["pipeline"], self.fields["stage"]
        assert isinstance(pipeline_field, forms.ModelChoiceField)
        assert isinstance(stage_field, forms.ModelChoiceField)
        active = Pipeline.objects.filter(is_active=True)
        pipeline_field.queryset = active | Pipeline.objects.filter(pk=deal.pipeline_id) if deal else active
        stages = list(
            Stage.objects.select_related("pipeline").order_by("pipeline__position", "pipeline_id", "position")
        )
        stage_field.queryset = Stage.objects.all()
        stage_field.widget.choices = _EMPTY + [(s.pk, f"{s.pipeline.name} — {s.name}") for s in stages]
        if "amount" in self.fields and deal is not None and deal.line_items.exists():
            # The amount of a deal with line items is their total; it is edited through the items.
            del self.fields["amount"]
            self.amount_from_items = True

    def record_data(self, *, skip: Iterable[str] = (), drop_empty: bool = False) -> dict[str, Any]:
        data = super().record_data(skip={"contacts", *skip}, drop_empty=drop_empty)
        for name in ("company", "pipeline", "stage"):
            if name in data:
                data[name] = data[name].pk if data[name] else None
        if data.get("pipeline") is None:
            data.pop("pipeline", None)
        if data.get("stage") is None:
            data.pop("stage", None)
        return data

    def contact_ids(self) -> list[int]:
        return [c.pk for c in self.cleaned_data.get("contacts") or []] + self.kept_contact_ids


def deal_initial(deal: Deal) -> dict[str, Any]:
    return {
        **{n: getattr(deal, n) for n in ("title", "amount", "currency", "expected_close_date", "lost_reason")},
        "company": deal.company_id,
        "contacts": [c.pk for c in deal.contacts.all()],
        "pipeline": deal.pipeline_id,
        "stage": deal.stage_id,
        "owner": deal.owner_id,
        "tags": ", ".join(deal.tags),
        "version": deal.version,
    }


class LineItemForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), required=False, coerce=int, empty_value=None)
    name = _text(label=_("Name"))
    quantity = LocalizedDecimalField(label=_("Quantity"), required=False, max_digits=14, decimal_places=3)
    unit = _text(label=_("Unit"), max_length=20)
    price = LocalizedDecimalField(label=_("Price"), required=False, max_digits=16, decimal_places=2, money=True)
    discount_percent = LocalizedDecimalField(label=_("Discount, %"), required=False, max_digits=5, decimal_places=2)
    vat_rate = LocalizedDecimalField(label=_("VAT, %"), required=False, max_digits=5, decimal_places=2)

    def __init__(self, *args: Any, products: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = _EMPTY + (products or [])  # type: ignore[attr-defined]
        searchable(self.fields["product"], "products")

    def item(self) -> dict[str, Any] | None:
        """The line for the service, or None for a blank row (or one marked for deletion)."""
        data = getattr(self, "cleaned_data", None) or {}
        if data.get("DELETE"):
            return None
        values = {k: v for k, v in data.items() if k != "DELETE" and v not in (None, "")}
        return values or None


LineItemFormSet = forms.formset_factory(LineItemForm, extra=3, can_delete=True)


def line_item_initial(deal: Deal) -> list[dict[str, Any]]:
    return [
        {
            "product": item.product_id,
            "name": item.name,
            "quantity": item.quantity,
            "unit": item.unit,
            "price": item.price,
            "discount_percent": item.discount_percent,
            "vat_rate": item.vat_rate,
        }
        for item in deal.line_items.all()
    ]


# --- leads -------------------------------------------------------------------------------------------------


class LeadForm(VersionedForm):
    title = _text(label=_("Title"), max_length=255)
    status = forms.ChoiceField(
        label=_("Status"), choices=[c for c in Lead.Status.choices if c[0] != Lead.Status.CONVERTED]
    )
    source = _text(label=_("Source"))
    contact_name = _text(label=_("Contact name"))
    company_name = _text(label=_("Company name"))
    email = _text(label=_("Email"))
    phone = _text(label=_("Phone"))
    message = _area(4, label=_("Message"))
    rejection_reason = _text(label=_("Rejection reason"))
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    tags = _text(label=_("Tags"), help_text=_("Separated by commas."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _EMPTY + self.users  # type: ignore[attr-defined]
        searchable(self.fields["owner"], "users")


def lead_initial(lead: Lead) -> dict[str, Any]:
    names = ("title", "status", "source", "contact_name", "company_name", "email", "phone", "message")
    return {
        **{n: getattr(lead, n) for n in names},
        "rejection_reason": lead.rejection_reason,
        "owner": lead.owner_id,
        "tags": ", ".join(lead.tags),
        "version": lead.version,
    }


class ConvertForm(forms.Form):
    MODES = [("create", _("Create a new one")), ("link", _("Link an existing one")), ("none", _("None"))]

    company_mode = forms.ChoiceField(label=_("Company"), choices=MODES, initial="create", widget=forms.RadioSelect)
    company = forms.ModelChoiceField(label=_("Existing company"), required=False, queryset=Company.objects.none())
    contact_mode = forms.ChoiceField(label=_("Contact"), choices=MODES, initial="create", widget=forms.RadioSelect)
    contact = forms.ModelChoiceField(label=_("Existing contact"), required=False, queryset=Contact.objects.none())
    create_deal = forms.BooleanField(label=_("Create a deal"), required=False, initial=True)
    deal_title = _text(label=_("Deal title"))
    deal_amount = LocalizedDecimalField(label=_("Amount"), required=False, max_digits=16, decimal_places=2, money=True)
    deal_currency = forms.ChoiceField(
        label=_("Currency"), choices=CURRENCY_CHOICES, initial=workspace_currency, required=False
    )
    deal_pipeline = forms.ModelChoiceField(label=_("Pipeline"), required=False, queryset=Pipeline.objects.none())

    def __init__(
        self,
        *args: Any,
        companies: QuerySet[Company],
        contacts: QuerySet[Contact],
        suggested_companies: Sequence[Company] = (),
        suggested_contacts: Sequence[Contact] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        company_field, contact_field = self.fields["company"], self.fields["contact"]
        pipeline_field = self.fields["deal_pipeline"]
        assert isinstance(company_field, forms.ModelChoiceField)
        assert isinstance(contact_field, forms.ModelChoiceField)
        assert isinstance(pipeline_field, forms.ModelChoiceField)
        company_field.queryset = companies
        contact_field.queryset = contacts
        pipeline_field.queryset = Pipeline.objects.filter(is_active=True)
        picker(
            company_field, companies.order_by("name"), suggested_companies, kind="companies", form=self, name="company"
        )
        picker(
            contact_field,
            contacts.order_by("last_name", "first_name"),
            suggested_contacts,
            kind="contacts",
            form=self,
            name="contact",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("company", "contact"):
            if data.get(f"{name}_mode") == "link" and not data.get(name):
                self.add_error(name, _("Choose which one to link."))
        return data

    def deal_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {
            "title": data.get("deal_title"),
            "amount": data.get("deal_amount"),
            "currency": data.get("deal_currency"),
            "pipeline": data["deal_pipeline"].pk if data.get("deal_pipeline") else None,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}


# --- products and activities -------------------------------------------------------------------------------


class ProductForm(forms.Form):
    sku = _text(label=_("SKU"), max_length=64)
    name = _text(label=_("Name"), max_length=255)
    unit = _text(label=_("Unit"), max_length=20, initial="pcs")
    price = LocalizedDecimalField(label=_("Price"), required=False, max_digits=16, decimal_places=2, money=True)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial=workspace_currency)
    vat_rate = LocalizedDecimalField(label=_("VAT, %"), required=False, max_digits=5, decimal_places=2)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    description = _area(4, label=_("Description"))

    def __init__(self, *args: Any, hidden: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A hidden price is neither shown nor sent, so saving keeps it.
        for name in hidden & set(self.fields):
            del self.fields[name]

    def product_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        # An empty VAT rate means none; an empty price is the service's "required" error.
        if data.get("vat_rate") is None:
            data.pop("vat_rate", None)
        return data


DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


def _due_field() -> forms.DateTimeField:
    return forms.DateTimeField(
        label=_("Due"),
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Activity.Kind.choices)
    subject = _text(label=_("Subject"), max_length=255)
    due_at = _due_field()
    duration_minutes = LocalizedIntegerField(label=_("Duration, min"), required=False, min_value=0)
    assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int, empty_value=None)
    body = _area(4, label=_("Details"))
    result = _area(2, label=_("Result"))
    company = forms.ModelChoiceField(label=_("Company"), required=False, queryset=Company.objects.none())
    contact = forms.ModelChoiceField(label=_("Contact"), required=False, queryset=Contact.objects.none())
    deal = forms.ModelChoiceField(label=_("Deal"), required=False, queryset=Deal.objects.none())
    lead = forms.ModelChoiceField(label=_("Lead"), required=False, queryset=Lead.objects.none())

    def __init__(
        self,
        *args: Any,
        users: list[tuple[str, str]],
        links: dict[str, QuerySet[Any]],
        current: dict[str, Model | None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = _EMPTY + users  # type: ignore[attr-defined]
        searchable(self.fields["assignee"], "users")
        for name, queryset in links.items():
            if drop_unseen_link(self, name, queryset, current.get(name)):
                continue
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset
            picker(
                field,
                queryset.order_by("-id"),
                [m for m in [current.get(name)] if m is not None],
                kind={"company": "companies"}.get(name, f"{name}s"),
                form=self,
                name=name,
            )

    def activity_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in ("company", "contact", "deal", "lead"):
            if name in self.fields:
                data[name] = data[name].pk if data.get(name) else None
        return data


def activity_initial(activity: Activity) -> dict[str, Any]:
    names = ("kind", "subject", "due_at", "duration_minutes", "body", "result")
    return {
        **{n: getattr(activity, n) for n in names},
        "assignee": activity.assignee_id,
        **{n: getattr(activity, f"{n}_id") for n in ("company", "contact", "deal", "lead")},
    }


class QuickAddForm(forms.Form):
    """A task, call or note added from a card: the record it belongs to comes from the URL."""

    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(k, v) for k, v in Activity.Kind.choices if k not in (Activity.Kind.MEETING, Activity.Kind.EMAIL)],
        initial=Activity.Kind.TASK,
    )
    subject = _text(label=_("Subject"), max_length=255)
    due_at = _due_field()
    body = _area(2, label=_("Details"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Ids of its own: the card may show other forms with the same field names.
        kwargs.setdefault("auto_id", "quick-%s")
        super().__init__(*args, **kwargs)


class DoneForm(forms.Form):
    done = forms.BooleanField(required=False)
    result = _area(2, label=_("Result"))


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File"))
