"""Staff pages for plugins: enable or configure one per scope (global, network, channel)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from appliance.access import staff_required
from botadmin import bridge
from botadmin.forms import PluginSettingsForm
from botadmin.models import Channel, Network, Plugin, PluginSetting
from botadmin.views.admin import reload_bot


@dataclass(frozen=True)
class Scope:
    """Where a PluginSetting applies; both None is global."""

    network: Network | None = None
    channel: Channel | None = None

    @classmethod
    def from_query(cls, params) -> Scope:
        try:
            if params.get("channel"):
                channel = Channel.objects.select_related("network").get(pk=params["channel"])
                return cls(channel.network, channel)
            if params.get("network"):
                return cls(Network.objects.get(pk=params["network"]))
        except (ValueError, Channel.DoesNotExist, Network.DoesNotExist):
            raise Http404("No such scope.") from None
        return cls()

    def __str__(self) -> str:
        if self.channel:
            return str(self.channel)
        return f"network {self.network}" if self.network else "every network (global)"

    @property
    def query(self) -> str:
        if self.channel:
            return f"?channel={self.channel.pk}"
        return f"?network={self.network.pk}" if self.network else ""

    def rows(self, plugin: str):
        if self.channel:
            return PluginSetting.objects.filter(plugin=plugin, channel=self.channel)
        condition = Q(network=self.network) if self.network else Q(network=None)
        return PluginSetting.objects.filter(condition, plugin=plugin, channel=None)

    def save(self, plugin: str, enabled: bool, config: dict) -> None:
        setting = self.rows(plugin).first() or PluginSetting(
            plugin=plugin, network=self.network, channel=self.channel
        )
        setting.enabled, setting.config = enabled, config
        setting.save()


@staff_required
@require_safe
def plugin_list(request: HttpRequest) -> HttpResponse:
    settings = PluginSetting.objects.select_related("network", "channel")
    by_plugin: dict[str, list[PluginSetting]] = {}
    for setting in settings:
        by_plugin.setdefault(setting.plugin, []).append(setting)
    plugins = [(plugin, by_plugin.get(plugin.name, [])) for plugin in Plugin.objects.all()]
    return render(request, "botadmin/admin/plugin_list.html", {"plugins": plugins})


@staff_required
@require_http_methods(["GET", "POST"])
def plugin_settings(request: HttpRequest, name: str) -> HttpResponse:
    plugin = get_object_or_404(Plugin, name=name)
    scope = Scope.from_query(request.GET)
    current = scope.rows(plugin.name).first()
    form = PluginSettingsForm(
        request.POST or None,
        schema=plugin.settings_schema or [],
        config=current.config if current else {},
        initial={"enabled": current.enabled if current else True},
    )
    if request.method == "POST" and form.is_valid() and checked(form, plugin):
        scope.save(plugin.name, form.cleaned_data["enabled"], form.config())
        reload_bot()
        messages.success(request, f"{plugin.name} saved for {scope}.")
        return redirect(reverse("botadmin:plugin-settings", args=[plugin.name]) + scope.query)
    context = {
        "plugin": plugin,
        "scope": scope,
        "current": current,
        "form": form,
        "settings": PluginSetting.objects.filter(plugin=plugin.name).select_related(
            "network", "channel"
        ),
        "networks": Network.objects.prefetch_related("channels"),
    }
    return render(request, "botadmin/admin/plugin_settings.html", context)


def checked(form: PluginSettingsForm, plugin: Plugin) -> bool:
    """Refuse settings the plugin finds wrong (a relay that would publish a private channel)."""
    for problem in bridge.plugin_problems(plugin, form.config()):
        form.add_error(None, problem)
    return not form.errors


@staff_required
@require_POST
def plugin_reset(request: HttpRequest, name: str) -> HttpResponse:
    """Forget a scope's setting, so the wider scope (or the default) applies again."""
    plugin = get_object_or_404(Plugin, name=name)
    scope = Scope.from_query(request.GET)
    scope.rows(plugin.name).delete()
    reload_bot()
    messages.success(request, f"{plugin.name} now inherits for {scope}.")
    return redirect(reverse("botadmin:plugin-settings", args=[plugin.name]) + scope.query)
