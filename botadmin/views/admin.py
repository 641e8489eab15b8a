"""Staff administration of the bot: networks, channels, plugins, redactions, the say box.

Every change is saved to the database and then rings ``bot.reload`` (or ``irc.say``): the
running bot applies it at once when the ring arrives, else at its next reconcile.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from appliance.access import staff_required
from appliance.control import BOT_GROUP, ring
from botadmin.forms import ChannelForm, NetworkForm, SayForm
from botadmin.models import Channel, Network, OutboundMessage
from botadmin.views.status import bot_status

View = Callable[..., HttpResponse]


def reload_bot() -> None:
    ring(BOT_GROUP, "bot.reload")


@staff_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    status = bot_status()
    networks = [
        (network, status["networks"].get(network.name) or {})
        for network in Network.objects.prefetch_related("channels")
    ]
    context = {"networks": networks, "status": status}
    return render(request, "botadmin/admin/home.html", context)


@staff_required
@never_cache
@require_safe
def status(request: HttpRequest) -> JsonResponse:
    return JsonResponse(bot_status())


@staff_required
@require_http_methods(["GET", "POST"])
def network_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    network = get_object_or_404(Network, pk=pk) if pk else Network()
    form = NetworkForm(request.POST or None, instance=network)
    if request.method == "POST" and form.is_valid():
        form.save()
        reload_bot()
        messages.success(request, f"Network {form.instance.name} saved.")
        return redirect("botadmin:admin-home")
    return render(request, "botadmin/admin/network_form.html", {"form": form, "network": network})


@staff_required
@require_http_methods(["GET", "POST"])
def channel_edit(
    request: HttpRequest, network_pk: int | None = None, pk: int | None = None
) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk) if pk else Channel()
    network = channel.network if pk else get_object_or_404(Network, pk=network_pk)
    form = ChannelForm(request.POST or None, instance=channel, network=network)
    if request.method == "POST" and form.is_valid():
        form.save()
        reload_bot()
        messages.success(request, f"Channel {channel.name} on {network.name} saved.")
        return redirect("botadmin:admin-home")
    context = {"form": form, "channel": channel, "network": network, "say_form": SayForm()}
    return render(request, "botadmin/admin/channel_form.html", context)


@staff_required
@require_POST
def network_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    network = get_object_or_404(Network, pk=pk)
    network.enabled = not network.enabled
    network.save(update_fields=["enabled", "updated"])
    reload_bot()
    state = "enabled" if network.enabled else "disabled"
    messages.success(request, f"Network {network.name} {state}.")
    return redirect("botadmin:admin-home")


@staff_required
@require_POST
def channel_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel.objects.select_related("network"), pk=pk)
    channel.enabled = not channel.enabled
    channel.save(update_fields=["enabled", "updated"])
    reload_bot()
    state = "enabled" if channel.enabled else "disabled"
    messages.success(request, f"Channel {channel} {state}.")
    return redirect("botadmin:admin-home")


def say_outcome(channel: Channel) -> str:
    """Tell what will become of a line to say, by the network's last reported status."""
    network = channel.network.name
    if (bot_status()["networks"].get(network) or {}).get("connected"):
        return f"Asked the bot to say that in {channel.name}."
    # The worker sends only lines younger than OutboundMessage.MAX_AGE, so a long outage drops it.
    minutes = int(OutboundMessage.MAX_AGE.total_seconds() // 60)
    return (
        f"Queued: the bot is not connected to {network} right now; it will say it in "
        f"{channel.name} if it connects within {minutes} minutes."
    )


@staff_required
@require_POST
def channel_say(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel.objects.select_related("network"), pk=pk)
    form = SayForm(request.POST)
    if not form.is_valid():
        context = {
            "form": ChannelForm(instance=channel, network=channel.network),
            "channel": channel,
            "network": channel.network,
            "say_form": form,
        }
        return render(request, "botadmin/admin/channel_form.html", context, status=400)
    message = form.save(channel, request.user)
    ring(BOT_GROUP, "irc.say", id=message.pk)
    messages.success(request, say_outcome(channel))
    return redirect("botadmin:channel-edit", pk=channel.pk)
