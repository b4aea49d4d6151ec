"""DRF's defaults carry the API's policy: a view that names no permission or pagination gets ours.

The probe views below say nothing about permissions or pagination, as a new endpoint written
in a hurry would: reads stay public, writes need staff with the view's ``write_permission``
(none named: no writes at all), and lists come in ``ListPagination`` pages.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from etfs.models import Instrument
from etfs.rest.pagination import ListPagination
from etfs.rest.permissions import ReadPublicWriteStaff
from etfs.tests.factories import InstrumentFactory

pytestmark = pytest.mark.django_db


class ProbeView(APIView):
    """A view naming neither permissions nor a write permission."""

    def get(self, request: Request) -> Response:
        return Response({"read": True})

    def post(self, request: Request) -> Response:
        return Response({"written": True}, status=201)


class CuratedProbeView(ProbeView):
    """The same, naming the model permission its writes need (as the sync-run endpoint does)."""

    write_permission = "etfs.change_instrument"


class SymbolSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = ["symbol"]


class ProbeListView(generics.ListAPIView):
    queryset = Instrument.objects.order_by("symbol")
    serializer_class = SymbolSerializer


def call(view: type[APIView], method: str, user=None) -> Response:
    request = getattr(APIRequestFactory(), method)("/probe/", {}, format="json")
    if user is not None:
        force_authenticate(request, user=user)
    return view.as_view()(request)


def staff(django_user_model, *, with_permission: bool):
    user = django_user_model.objects.create_user(f"staff-{with_permission}", is_staff=True)
    if with_permission:
        user.user_permissions.add(Permission.objects.get(codename="change_instrument"))
    return user


def test_a_view_without_explicit_classes_uses_the_api_policy():
    assert [type(p) for p in ProbeView().get_permissions()] == [ReadPublicWriteStaff]


def test_a_view_without_explicit_classes_refuses_anonymous_writes():
    assert call(ProbeView, "post").status_code == 401


def test_a_view_without_explicit_classes_serves_anonymous_reads():
    response = call(ProbeView, "get")

    assert (response.status_code, response.data) == (200, {"read": True})


def test_a_view_without_explicit_classes_needs_a_token_for_reads_when_the_deployment_says_so(settings):
    settings.API_REQUIRE_TOKEN = True

    assert call(ProbeView, "get").status_code == 401


def test_a_view_naming_no_write_permission_refuses_even_staff_writes(django_user_model):
    assert call(ProbeView, "post", staff(django_user_model, with_permission=True)).status_code == 403


def test_a_view_naming_its_write_permission_lets_staff_holding_it_write(django_user_model):
    assert call(CuratedProbeView, "post", staff(django_user_model, with_permission=False)).status_code == 403
    assert call(CuratedProbeView, "post", staff(django_user_model, with_permission=True)).status_code == 201


def test_a_list_without_explicit_pagination_comes_in_list_pages(settings):
    InstrumentFactory(code="510300")
    InstrumentFactory(code="510500")

    request = APIRequestFactory().get("/probe/", {"page_size": 1})
    response = ProbeListView.as_view()(request)

    assert ProbeListView.pagination_class is ListPagination
    assert (response.status_code, response.data["count"], len(response.data["results"])) == (200, 2, 1)
