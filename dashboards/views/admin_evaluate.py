"""Start an evaluation of a ready submission on a usable corpus (admin), or run a queued or interrupted one.

The page makes the same service calls as 'clinval evaluate': the run is created bound to exact versions of
model, protocol and corpus, then executed site by site in the sandbox. 'Run now' executes it in the dashboard's
server process while this page waits and lists each site as it finishes; 'Queue only' creates the run and
leaves it queued, to be run from this page later or with 'clinval evaluate --resume RUN'.
"""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.evaluation import execute
from dashboards.session import get_platform
from dashboards.widgets import act, call, done, require_principal, show_done
from validation import ClinvalError

NOW, QUEUE = "Run now (this page waits until every site is done)", "Queue only"

principal = require_principal()
st.title("Start an evaluation")
show_done()


def run_now(run_id: str) -> None:
    """Execute a run while showing each site as it finishes; report the outcome honestly."""
    with st.status(f"Running {run_id} in the sandbox...", expanded=True) as status:
        def progress(site, outcome) -> None:
            why = f": {outcome.reason}" if getattr(outcome, "reason", None) else ""
            st.write(f"{site}: {outcome.state} ({outcome.n_cases} cases){why}")

        try:
            info = execute(get_platform(), principal, run_id, progress=progress)
        except ClinvalError as exc:
            status.update(label=f"{run_id} did not run", state="error")
            st.error(exc.message + (f". {exc.hint}" if exc.hint else ""))
            return
        ok = info.state == "scored" and info.complete
        status.update(label=f"{run_id}: {info.state}", state="complete" if ok else "error")
    if ok:
        done(f"Run {info.id} is scored on {len(info.sites)} sites; open it on 'Run report'.")
    else:
        failed = [f"{s.site} ({s.reason})" if s.reason else s.site for s in info.sites if s.state != "done"]
        st.error(f"Run {info.id} is {info.state}" + (f"; sites not done: {', '.join(failed)}" if failed else "")
                 + (f". {info.error}" if info.error else "") + ". Run it again below to resume it.")


subs = [s for s in call(data.submissions, principal) if s.state == "ready"]
corpora = [c for c in call(data.corpora, principal) if c.usable]
tasks = {(p.protocol.id, p.protocol.version): p.protocol.task for p in call(data.protocols, principal)}
if not subs:
    st.info("No submission is ready (a submission becomes ready when it passes its smoke test).")
else:
    by_id = {s.id: s for s in subs}
    chosen = st.selectbox("Submission (ready)", list(by_id), format_func=lambda i: (
        f"{i}: {by_id[i].org} {by_id[i].model_name} {by_id[i].model_version} "
        f"({by_id[i].protocol_id} v{by_id[i].protocol_version})"))
    sub = by_id[chosen]
    task = tasks.get((sub.protocol_id, sub.protocol_version))
    usable = {c.id: c for c in corpora if task in c.tasks}
    if not usable:
        st.info(f"No usable corpus has {task} cases. Ingest one, or accept a corpus that failed its quality "
                "checks on the 'Corpora' page.")
    else:
        corpus_id = st.selectbox("Corpus (usable)", list(usable),
                                 format_func=lambda i: f"{usable[i].name} ({i[:12]}, {len(usable[i].sites)} sites)")
        hospitals = [s for s in usable[corpus_id].sites if s != "DEV"]
        with st.form("start-evaluation"):
            sites = st.multiselect("Sites (the sequestered hospitals)", hospitals, default=hospitals)
            how = st.radio("When", [NOW, QUEUE], horizontal=True)
            submitted = st.form_submit_button("Start evaluation")
        st.caption("'Run now' keeps this page busy until every site is done (minutes for 16 hospitals). If you leave "
                   "the page meanwhile, the run may stop before it is scored: its finished batches are kept, and it "
                   "is listed below to be run again (resumed).")
        if submitted:
            from validation.runs import create_run

            if not sites:
                st.error("Choose at least one site.")
            else:
                run = act(create_run, get_platform(), principal, sub.id, corpus_id, sites=sites)
                if run is not None and how == QUEUE:
                    done(f"Run {run.id} is queued (not running): run it below, or with "
                         f"'clinval evaluate --resume {run.id}'.")
                elif run is not None:
                    st.cache_data.clear()
                    run_now(run.id)

st.subheader("Queued and unfinished runs")
waiting = [r for r in call(data.runs, principal) if r.state in ("queued", "running", "failed")
           or (r.state == "scored" and not r.complete)]
if not waiting:
    st.caption("None.")
    st.stop()
st.dataframe(pd.DataFrame([{"run": r.id, "vendor": r.org, "submission": r.submission_id, "state": r.state,
                            "sites": ", ".join(f"{s.site}:{s.state}" for s in r.sites), "note": r.error or ""}
                           for r in waiting]), hide_index=True, width="stretch")
with st.form("resume-run"):
    run_id = st.selectbox("Run", [r.id for r in waiting])
    submitted = st.form_submit_button("Run it now")
if submitted:
    run_now(run_id)
