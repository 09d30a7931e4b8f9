"""Properties of the fork selection and cloning on arbitrary parent links,
including orphans, self-parents and cycles (no database needed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.operations.fork import ForkOption, MessageTree, clone_messages, select
from storage.database import Document
from storage.documents import NO_PARENT

BASE = datetime(2024, 1, 1)


@st.composite
def conversations(draw: st.DrawFn) -> list[Document]:
    """Messages whose parents are any message (cycles too), NO_PARENT or unknown."""
    n = draw(st.integers(min_value=1, max_value=12))
    ids = [f"m{i}" for i in range(n)]
    parent_choice = st.one_of(st.sampled_from(ids), st.just(NO_PARENT), st.just("ghost"))
    docs = []
    for mid in ids:
        docs.append(
            {
                "messageId": mid,
                "parentMessageId": draw(parent_choice),
                "createdAt": BASE + timedelta(seconds=draw(st.integers(0, 3))),
                "text": mid,
            }
        )
    docs.sort(key=lambda d: d["createdAt"])  # stored order
    return docs


@settings(max_examples=200, deadline=None)
@given(conversations(), st.data())
def test_every_option_gives_a_closed_forest_cloned_parents_first(
    docs: list[Document], data: st.DataObject
) -> None:
    tree = MessageTree.build(docs)
    target = data.draw(st.sampled_from(tree.order))
    chosen = {option: select(tree, target, option) for option in ForkOption}
    direct, branches, level = (chosen[option] for option in ForkOption)
    assert direct <= branches <= level
    for keys in chosen.values():
        assert target in keys
        copies = clone_messages(
            tree, keys, user="u", conversation_id="c", endpoint="openAI", now=BASE
        )
        assert sorted(c["text"] for c in copies) == sorted(keys)
        seen: dict[str, Document] = {}
        for copy in copies:
            parent = copy["parentMessageId"]
            if parent != NO_PARENT:
                assert parent in seen  # cloned before its children
                assert copy["createdAt"] > seen[parent]["createdAt"]
            seen[copy["messageId"]] = copy


@settings(max_examples=200, deadline=None)
@given(conversations(), st.data())
def test_split_keeps_the_target_level_and_below(docs: list[Document], data: st.DataObject) -> None:
    tree = MessageTree.build(docs)
    target = data.draw(st.sampled_from(tree.order))
    levels = tree.levels()
    assert set(levels) == set(tree.order)  # every message has a level, even in a cycle
    split = tree.split_at(target)
    assert set(split.order) == {k for k in tree.order if levels[k] >= levels[target]}
    assert all(split.parent[k] is None for k in split.order if levels[k] == levels[target])
    assert split.levels()[target] == 0


def test_include_branches_takes_siblings_but_not_the_target_s_children() -> None:
    docs = [
        {"messageId": "r", "parentMessageId": NO_PARENT},
        {"messageId": "a", "parentMessageId": "r"},
        {"messageId": "b", "parentMessageId": "r"},
        {"messageId": "a1", "parentMessageId": "a"},
        {"messageId": "b1", "parentMessageId": "b"},
        {"messageId": "other-root", "parentMessageId": NO_PARENT},
    ]
    tree = MessageTree.build(docs)
    assert select(tree, "a", ForkOption.INCLUDE_BRANCHES) == {"r", "a", "b"}
    assert select(tree, "a", ForkOption.DIRECT_PATH) == {"r", "a"}
    assert select(tree, "a", ForkOption.TARGET_LEVEL) == {"r", "a", "b", "other-root"}
