"""The same echo bot on aiogram 3, with its default settings (it handles updates as concurrent tasks).

Pointed at the fake server with TelegramAPIServer.from_base. Run by bench/e2e.py.
"""

import asyncio
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message

dispatcher = Dispatcher()


@dispatcher.message(F.text)
async def echo(message: Message, bot: Bot) -> None:
    await bot.send_message(message.chat.id, message.text)


@dispatcher.callback_query()
async def press(query: CallbackQuery, bot: Bot) -> None:
    await query.answer()
    await bot.send_message(query.message.chat.id, query.data)


async def main() -> None:
    base = os.environ["TELEGRAM_API_BASE_URL"].removesuffix("/bot")
    session = AiohttpSession(api=TelegramAPIServer.from_base(base))
    await dispatcher.start_polling(Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session))


if __name__ == "__main__":
    asyncio.run(main())
