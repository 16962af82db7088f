from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "crm.products"
    label = "products"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from crm.core.types import RecordType
        from tenants.accounts import kinds

        # A shared catalog: no owner, so own and team mean all.
        kinds.register(
            kinds.RecordKind(
                key=RecordType.PRODUCT.value,
                label=RecordType.PRODUCT.label,
                model_name="products.Product",
                order=60,
                hideable=(kinds.HideableField("price", _("price")),),
            )
        )
