"""Record pages: cards, create/edit forms, merge, conversion, files (owner: records)."""

from django.urls import path

from crm.web.placeholder import not_built

company_patterns = [path("<int:pk>/", not_built, name="detail"), path("new/", not_built, name="create")]
contact_patterns = [path("<int:pk>/", not_built, name="detail"), path("new/", not_built, name="create")]
deal_patterns = [path("<int:pk>/", not_built, name="detail"), path("new/", not_built, name="create")]
lead_patterns = [path("<int:pk>/", not_built, name="detail"), path("new/", not_built, name="create")]
product_patterns = [path("<int:pk>/", not_built, name="detail"), path("new/", not_built, name="create")]
activity_patterns = [path("<int:pk>/", not_built, name="detail"), path("new/", not_built, name="create")]
