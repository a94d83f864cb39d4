"""What can be reported: the active categories (`/api/categories/`)."""

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from issues.api.schema import (
    CategorySerializer,
)
from issues.selectors import (
    category_list_public,
)


class CategoryListApi(APIView):
    """The active categories (what can be reported), with department and extra questions."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(operation_id="categories_list", responses={200: CategorySerializer(many=True)})
    def get(self, request: Request) -> Response:
        response = Response(category_list_public())
        response["Cache-Control"] = "public, max-age=300"
        return response
