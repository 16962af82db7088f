from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "crm.products"
    label = "products"
    default_auto_field = "django.db.models.BigAutoField"
