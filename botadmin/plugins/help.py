"""help: lists commands and shows each one's help text."""

from __future__ import annotations

from botadmin.infobot import Incoming, Plugin, command


class Help(Plugin):
    """Lists the commands available here and explains each one."""

    @command("help")
    async def help(self, msg: Incoming, args: str) -> None:
        """help [COMMAND]: list the commands, or explain one."""
        commands = {c.name: c for c in self.context.commands(msg.network, msg.channel)}
        wanted = args.split()[0].lstrip("!").lower() if args.split() else ""
        if not wanted:
            await msg.reply("Commands: " + ", ".join(sorted(commands)) + ". Try: help COMMAND")
        elif wanted in commands:
            await msg.reply(" ".join(commands[wanted].help.split()) or f"{wanted}: no help.")
        else:
            await msg.reply(f"No such command: {wanted}")
