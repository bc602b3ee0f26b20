"""Hypothesis strategies for contact policies, shared by the domain and engine tests."""

from __future__ import annotations

from hypothesis import strategies as st

from tactica.domain.policy import (
    Calendar,
    ContactPolicy,
    FrequencyCap,
    MinGap,
    NoRepeatOffer,
    Rule,
    Scope,
)

CHANNELS = ["sms", "email"]
KINDS = ["outbound", "triggered"]

scopes = st.builds(
    Scope, channel=st.sampled_from([None, *CHANNELS]), campaign_kind=st.sampled_from([None, *KINDS])
)


def policy_rules(max_contacts: int) -> st.SearchStrategy[Rule]:
    """Any rule: rolling and calendar caps (named 'cap', 'cal'), gaps ('gap'), repeats ('rep')."""
    return st.one_of(
        st.builds(
            FrequencyCap,
            name=st.just("cap"),
            max_contacts=st.integers(0, max_contacts),
            days=st.integers(1, 60),
            scope=scopes,
        ),
        st.builds(
            FrequencyCap,
            name=st.just("cal"),
            max_contacts=st.integers(0, max_contacts),
            calendar=st.sampled_from(list(Calendar)),
            scope=scopes,
        ),
        st.builds(MinGap, name=st.just("gap"), hours=st.sampled_from([0, 1, 24, 72]), scope=scopes),
        st.builds(NoRepeatOffer, name=st.just("rep"), days=st.integers(1, 30)),
    )


def policies(max_contacts: int = 4) -> st.SearchStrategy[ContactPolicy]:
    """Policies of up to four rules and one to three contacts per run."""
    return st.builds(
        ContactPolicy,
        rules=st.lists(policy_rules(max_contacts), max_size=4).map(tuple),
        per_run=st.integers(1, 3),
    )
