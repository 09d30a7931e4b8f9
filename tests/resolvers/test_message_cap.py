"""The messages loader reads at most the cap per conversation, and never a partial one."""

from __future__ import annotations

from datetime import timedelta

from resolvers.adapters.services import Services
from resolvers.graphql.loaders import TooManyMessages, make_loaders
from storage.database import Database
from tests.utils.factories import ALICE, BASE_TIME, insert_conversation, insert_thread, message_doc


async def test_a_conversation_over_the_cap_does_not_cut_short_the_others_on_its_page(
    database: Database,
) -> None:
    # The big conversation's messages all sort before the small one's, so the
    # first read (cap per conversation, plus one) holds only the big one's.
    big = await insert_conversation(database, ALICE, title="big")
    await insert_thread(database, ALICE, big["conversationId"], ["m"] * 10)
    small = await insert_conversation(database, ALICE, title="small")
    await database.messages.insert_many(
        [
            message_doc(
                ALICE, small["conversationId"], text=f"s{i}", created_at=BASE_TIME + timedelta(1)
            )
            for i in range(3)
        ]
    )
    loaders = make_loaders(Services(database=database, max_messages_per_conversation=3), ALICE)
    big_result, small_result = await loaders.messages.load_fn(
        [big["conversationId"], small["conversationId"]]
    )
    assert isinstance(big_result, TooManyMessages)
    assert sorted(m.text for m in small_result) == ["s0", "s1", "s2"]
