"""Drawing one chunk of events per row from a trained event head (sequence/event_head.py), quickly.

The head's density, exactly: the same GRU step and the same four choices (five with ar.onsets: join, onset or
end first), each drawn by the Gumbel-max rule (a -inf logit is never drawn), at the model's own odds unless a
sampling setting tempers the key or the start, leans the start toward the beat heard, biases the chunk's end,
re-voices a second inside a chord, leans a new onset toward a step from the note before or keeps a note off a key
still sounding (EventSampler.sample). What makes
it fast is that sampling runs one event at a time for few rows (one piece: one row), where each tensor operation
costs more to launch than to compute, so it does fewer of them:
- each choice's head starts with a linear layer of (GRU state + the embeddings of the choices made before it in
  the event); by linearity that is one product of the state with the C first layers stacked (C = 4 choices, 5
  with ar.onsets), plus, for each choice made before, a row of a table prepared once (that choice's embedding
  through the later layer); the layers by which the key's leans read the state (the pointer's query of
  ar.intervals, the kernels of ar.voices and ar.register) are stacked under them, in the same product (with
  ar.onsets_leans, the next choice's embedding through them added after: equal to reading the state with the
  embedding added up to float rounding, ~4e-6, which changed no draw in 600 pieces of events-onsets);
- the Gumbel noise of all the draws of an event (note or pedal or stop, key, start, duration, intensity; and with
  ar.onsets the next choice first) comes from one call;
- nn.Module calls (hooks, attribute look-ups) are replaced by the functional ops on the same weights (the
  pointer's attention and the leans of the voices and the register are given what the stacked product gave them:
  IntervalPointer.attend, VoiceLean.leaned);
- the drawn event's four choices are rows of one table, read once for the GRU's next input and the pointer's key
  of the event, each summed in the order the adds would take (summed_rows); the voices are kept note by note, for
  one piece as Python numbers (voices.HeardVoices); one piece's checks read its first row directly (guided, its two
  halves choose alike), with no reduction first;
  what the guards read of a note (its start's middle, its key, whether it joins the onset) is read once unless a
  guard draws it again. Each gives the same bits as the straightforward computation (checked against the code
  before them: every shipped model's draws byte for byte the same; 13 % fewer instructions for one 16 s piece).
With guidance (ar.style_guidance or ar.request_guidance g ≠ 1, or ar.pedal_guidance or ar.key_guidance ≠ 1), the
features come twice, told the pieces' descriptions and untold, and every choice is drawn from the untold logits +
g × (told − untold) (classifier-free guidance, Ho & Salimans 2022: the network was trained told and, for a tenth of
its windows, untold), then made in both halves alike; the pedal columns of the note-pedal-or-stop choice are mixed
at ar.pedal_guidance and a note's key (drawn, or drawn again by a guard) at ar.key_guidance where those are set,
every other choice at g. The mix and the one choice kept for both halves run for every draw, so they are written
in the fewest operations that give the same bits (guided_mix, twice: one 16 s piece of the default 17 % fewer
aten operations than with torch.where and repeat, bench/results/generate_events_58_speed.md).
An `EventSampler` holds those tables (sampler_tables.py); prepare one per sample (the weights must not change while it
is used). Each choice's logits and draw are in sampler_draws.py, the set-up of a chunk and the sets it returns in
sampler_setup.py: sample reads as the order of the draws.
Shapes: R chunk rows (2R with guidance: told, then untold), N events per chunk (max_events), H head width,
C choices per event, I notes heard so far (ar.voices, ar.cluster_guard), V voices, S start bins.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ..batches import SetBatch
from ..midi import NUM_KEYS
from .carry import Carry
from .clusters import join_bins, near_keys, onset_keys
from .event_head import START_STEP_S, duration_s_at
from .figures import figure_lean, struck_now
from .onsets import END, ONSET, join_limit, latest_heard, start_allowed
from .pulse import TEMPO_NEEDS_ECHO, BeatEcho, TempoTold, latest, onset_of
from .register_guard import register_lean
from .sampler_draws import (
    Drawing,
    StartReads,
    all_stopped,
    any_of,
    duration_odds,
    intensity_odds,
    lean_to_join,
    next_odds,
    note_odds,
    pick,
    read_note,
    redraw,
    rows_redrawn,
    start_odds,
    summed_rows,
    tilted,
)
from .sampler_setup import drawn_sets, heard_twice, kind_biases, silence_unbiased
from .sampler_tables import CHOICES, KINDS, SamplerTables
from .steps import note_before
from .voices import HeardVoices, carry_notes


class EventSampler(SamplerTables):
    """An event head's weights arranged for drawing (SamplerTables, sequence/sampler_tables.py), and the drawing of a
    chunk of events from them (see the module's docstring)."""

    @torch.no_grad()
    def sample(self, features: torch.Tensor, rng: torch.Generator, temperature: float = 1.0,
               carry: Carry | None = None, tonal: torch.Tensor | None = None, guidance: float = 1.0,
               unpressed: torch.Tensor | None = None, pedal_guidance: float | None = None,
               key_guidance: float | None = None, onsets: tuple[torch.Tensor, torch.Tensor] | None = None,
               start_temperature: float = 1.0, stop_bias: float = 0.0, empty_bias: float = 0.0,
               empty_ramp_s: float = 0.0,
               beat_echo: float = 0.0, echo_recency_s: float = 0.0,
               cluster_guard: float = 0.0, velocity_temperature: float = 1.0,
               register: tuple[torch.Tensor, torch.Tensor] | None = None, register_guard: float = 0.0,
               register_margin: float = 0.0, register_min_p: float = 0.0, damper_bias: float = 0.0,
               soft_bias: float = 0.0,
               heard_register: torch.Tensor | None = None, step_lean: float = 0.0,
               join_bias: float = 0.0, sounding: torch.Tensor | None = None, restrike_guard: float = 0.0,
               tempo: TempoTold | None = None, duration_tilt: float | torch.Tensor = 0.0,
               noteless: torch.Tensor | None = None, silent_s: torch.Tensor | None = None,
               silence_guard_s: float = 0.0, figures: torch.Tensor | None = None,
               figure_echo: float = 0.0) -> SetBatch:
        """One chunk of events per row: features [R, W] → padded sets [R, N], events in time order. Which key a
        note strikes is drawn with its logits ÷ `temperature`, its start with its logits ÷ `start_temperature`, and
        whether the chunk ends with `stop_bias` added to that logit once the chunk holds an event (`empty_bias`
        before its first), a note's velocity with its logits ÷ `velocity_temperature` (a pedal's depth at the
        model's odds); everything else at the model's own odds: whether it is a note or which pedal, and its
        duration. (Tempering those too, on validation: a tempered stop left 16 s pieces silent for
        seconds, tempered durations halved the polyphony, a tempered note-or-pedal choice doubled the pedal
        changes.) A row stops at its
        stop choice or at the cap; starts never go back in time. `carry` [R, M] and `tonal` [R, G, 12]: what the
        head hears before the chunk, where it has ar.carry and ar.tonal. `unpressed` [R, 3] (damper, sostenuto,
        soft): pedals a row never draws (ar.pedals_as_told). With `guidance` ≠ 1, features [2R, W] are the R pieces
        told their descriptions, then untold (see the module's docstring); carry, tonal and unpressed are the R
        pieces'. `pedal_guidance` (None: `guidance`): the guidance of the pedal columns of the note-pedal-or-stop
        choice alone (ar.pedal_guidance); any value but 1 also reads features [2R, W]. `key_guidance` (None:
        `guidance`): the same for a note's key alone, drawn or drawn again (ar.key_guidance). `onsets`: with ar.pulse or
        `beat_echo`, the
        onsets before the chunk [R, M] and its latest note's start [R] (pulse.DrawnOnsets'). `start_temperature`: each
        event's start bin is drawn with its logits ÷ it (ar.start_temperature). `stop_bias`: added to the logit of
        ending a chunk that holds an event already (ar.stop_bias), `empty_bias` to that of ending it before its first
        event (ar.empty_bias); with `empty_ramp_s` τ > 0 (ar.empty_ramp_s; needs `onsets`) the empty bias grows from
        none at the latest note's start to all of it τ seconds after, so that a pause keeps the network's odds and a
        long silence is cut short. `beat_echo`: the strength of a lean on each note's start toward the
        intervals between the onsets heard, after them (ar.beat_echo, pulse.BeatEcho; needs `onsets`), added after
        the start temperature; a pedal's start does not lean; `echo_recency_s` τ > 0: each onset's vote for a bin weighs
        e^(−lag/τ), the lag from it to the bin (ar.echo_recency_s). `cluster_guard` C: among the notes that join the onset being
        struck, one within 2 semitones of one of its notes is drawn at e^−C of its odds, the others more often in
        proportion, so that the chord keeps its size and its odds of a note (ar.cluster_guard, clusters.py).
        `register` (the highest and lowest key struck in the window before the chunk [R] each, ±inf where none) with
        `register_guard` G > 0: a note's key more than `register_margin` semitones beyond them (or beyond the notes
        drawn in the chunk so far) is drawn with its logit lowered by G per semitone beyond (ar.register_guard,
        register_guard.py); with `register_min_p` p > 0, such a key is drawn only where its odds are at least p × the
        likeliest key's (the others untouched); whether the event is a note keeps the network's odds. `damper_bias`:
        added to the logit of an event being a damper press or change of depth (ar.damper_bias); `soft_bias`: the
        same for the una corda (ar.soft_bias). `heard_register`
        [R, V]: with ar.register, the keys heard before the chunk (register_heard.drawn_heard's), which the head's
        kernels lean every key choice from. `step_lean` L: among the notes that start a new onset, one within 2
        semitones of the note before is drawn at e^L times the odds of the others (ar.step_lean, steps.py; exact,
        by rejection, as the cluster guard: how often a note starts an onset keeps the network's odds). `join_bias`:
        with ar.onsets, added to the log-odds of the next event joining the latest onset rather than starting a new
        one; the chunk's end keeps its odds at each choice (guided: the lean applied to the mixed logits; ar.join_bias,
        lean_to_join). `sounding` [R, 88]: seconds from the chunk's start until each key's note before is over (−inf:
        none; sounding.DrawnSounding's), the chunk's notes added as drawn; with `restrike_guard` G > 0 every note on a key
        still sounding at its start is drawn at e^−G of its odds, the other notes more often in proportion
        (ar.restrike_guard, sounding.py; exact, by rejection, as the cluster guard: kept at e^−G, else drawn again
        with those odds). `tempo`: the beat echo leans toward that tempo's beats after the onsets heard instead of toward
        the intervals between them (pulse.TempoTold; needs `beat_echo` > 0). `duration_tilt` β: a note's duration is
        drawn with β × ln(its seconds) added to its logits (ar.duration_tilt; guided: to the mixed logits); a tensor
        [S]: each piece's own β (ar.final_hold, in a closing's final chord).
        `noteless` [R] (bool): rows where no note starts, only pedals (a closing's chunks after its final chord,
        where no training track starts one); the other rows draw as without it. `silent_s` [R]: seconds without a note
        sounding at the chunk's start (sounding.DrawnSounding.silent_s': one released under the damper sounds until it
        lifts); with `silence_guard_s` S > 0, where that is
        over S the logit of ending the chunk is lowered by silence_guard.NATS_PER_S per second beyond S at each of its
        events until it holds a note (ar.silence_guard_s, silence_guard.py; not in `noteless` rows); every other row,
        and every row with S = 0, draws as without it. `figures` [R, W]: the keys of the notes struck before the chunk,
        oldest first (figures.DrawnFigures'); with `figure_echo` E > 0 the key that goes on as the latest earlier playing
        of the last notes' steps went on gets +E on its logit, the chunk's notes added as drawn (ar.figure_echo,
        figures.py); with E = 0 every row draws as without it."""
        head, through = self.head, self.through
        if join_bias != 0.0 and not head.onsets:
            raise ValueError(f"ar.join_bias {join_bias}: this model has no choice of joining the onset (ar.onsets)")
        pieces, n, device = features.shape[0], head.max_events, features.device
        pedal_guidance = guidance if pedal_guidance is None else pedal_guidance
        key_guidance = guidance if key_guidance is None else key_guidance
        guided = guidance != 1.0 or pedal_guidance != 1.0 or key_guidance != 1.0
        if guided:  # both halves hear the same past
            pieces //= 2
            carry, tonal, unpressed, noteless, onsets, register, heard_register, sounding, silent_s = heard_twice(
                carry, tonal, unpressed, noteless, onsets, register, heard_register, sounding, silent_s)
        echoes = figure_echo > 0
        if echoes:
            if figures is None:
                raise ValueError("ar.figure_echo: pass the keys struck before the chunk (figures)")
            figures = figures.to(features.device)
            if guided:  # both halves hear the same past
                figures = torch.cat([figures, figures])  # [2R, W]
        r = features.shape[0]
        alone = pieces == 1  # one piece: one row, or guided its two halves, in which every choice is made alike (a check
        # of its rows reads its first)
        drawing = Drawing(self, guided, guidance, key_guidance, start_temperature)
        kind_guidance = guidance  # the note-pedal-or-stop choice: the pedals' columns at pedal_guidance
        if pedal_guidance != guidance:
            kind_guidance = torch.full((KINDS,), guidance, device=device)
            kind_guidance[1:KINDS - 1] = pedal_guidance
        h0, bias = head.conditioning(features, carry)  # [R, H] each
        state, step_input = torch.tanh(h0), head.first + bias  # [R, H] each
        pointer = head.intervals  # with ar.intervals: what each key choice attends to, the drawn events added
        # the leans of ar.voices and ar.register (VoiceLean each, or None), looked up once: an nn.Module's attribute
        # costs a call of its own each time
        voice_lean, register_voice_lean = head.voices, head.register
        items = pointer.items(r, carry) if pointer is not None else None
        kernels = self.kernels  # [A, 88, 88]
        chunk_bias = head.tonal_bias(tonal)  # with ar.tonal: [R, 88] on every key choice of the chunk
        clusters, steps, restrikes = cluster_guard > 0, step_lean > 0, restrike_guard > 0
        if restrikes and sounding is None:
            raise ValueError("ar.restrike_guard: pass the keys still sounding before the chunk (sounding)")
        guards = clusters or steps  # each one's coin and redraw noise: every event, for every piece, so that no
        # piece's draws depend on whether another's note was drawn again
        redraw_widths = (1, NUM_KEYS, head.bins.starts)
        widths = (self.noise_widths + (redraw_widths if clusters else ()) + (redraw_widths if steps else ())
                  + (redraw_widths if restrikes else ()))
        if restrikes:
            sounding = sounding.to(device).double()  # [R, 88], the chunk's notes added as drawn
            unpenalised = torch.zeros(r, NUM_KEYS, device=device)  # (the notes are penalised by key and start)
            every_bin = torch.ones(r, head.bins.starts, dtype=torch.bool, device=device)  # (the order's mask: start_odds)
        latest_s = heard_voices = None  # the latest note's start heard [R] and the voices: as below, where heard
        if head.voices is not None or head.onsets or guards:  # the notes heard (ar.voices, ar.onsets, the guard)
            heard_s, heard_ids = carry_notes(carry, r, device)  # [R, I] each
            latest_s = latest_heard(heard_s, torch.full((1,), heard_s.shape[1], device=device))[:, 0]  # [R]
            if steps:
                before = note_before(heard_s, heard_ids)  # [R]: the key of the note before the next (−1: none)
            # ar.voices: the notes heard, each drawn one added, and the voices they make as the lean reads them
            heard_voices = HeardVoices(voice_lean, heard_s, heard_ids) if voice_lean is not None else None
        hears_onsets = head.pulse is not None or beat_echo > 0
        pulse_heard = None
        if hears_onsets:  # the onsets heard (ar.pulse, ar.beat_echo), each drawn one added
            if onsets is None:
                raise ValueError("this sampler hears the onsets before each start (ar.pulse or ar.beat_echo): pass them")
            pulse_heard, last_note_s = onsets[0].to(device), onsets[1].to(device)  # [R, M], [R]
        if tempo is not None and beat_echo <= 0:
            raise ValueError(TEMPO_NEEDS_ECHO)
        echo = BeatEcho(pulse_heard, self.start_middles_s, beat_echo, tempo, echo_recency_s) if beat_echo > 0 else None
        if head.register is not None and heard_register is None:
            raise ValueError("this event head hears the register before each chunk (ar.register): pass it")
        register_heard = head.register.sampled(heard_register.to(device)) if head.register is not None else None
        ranged = register is not None and (register_guard > 0 or register_min_p > 0)  # the bounds, each note added
        if ranged:
            highest, lowest = (bound.to(device).float() for bound in register)  # [R] each
        join_lean = functools.partial(lean_to_join, bias=join_bias) if join_bias != 0.0 else None  # ar.join_bias
        ends_biased = stop_bias != 0.0 or empty_bias != 0.0  # the chunk's end: empty_bias before its first event
        going = torch.ones(r, dtype=torch.bool, device=device)
        sizes = torch.zeros(r, dtype=torch.long, device=device)
        earliest = torch.zeros(r, dtype=torch.long, device=device)  # the earliest start bin: the event before's
        drawn: list[torch.Tensor] = []  # each event's (key, start, duration, intensity) [R, 4]
        # what is found from the notes heard, kept until an event strikes a note (a pedal changes none of them):
        near = echo_heard = None  # the keys near the onset's [R, 88]; the echo's lean [R, S]
        chosen = None  # with ar.onsets, each row's next choice [R]
        kind_bias, end_biases = kind_biases(head, r, device, damper_bias, soft_bias, empty_bias, stop_bias,
                                            empty_ramp_s, onsets, unpressed, noteless)  # [5] or [R, 5]; [] or [R]
        unsilenced = silence_unbiased(silence_guard_s, silent_s, noteless, device)  # [R] or None: ar.silence_guard_s
        # the duration tilt β: a float for every row, or each piece's own [S, 1] (ar.final_hold); None: none
        beta = (duration_tilt[:, None] if isinstance(duration_tilt, torch.Tensor)
                else duration_tilt if duration_tilt != 0.0 else None)
        # each event's Gumbel noise [pieces, Σ widths], drawn into one tensor on the generator's device (the CPU), and
        # there its parts by choice, made once (each a view, read within the event)
        gumbel = torch.empty(pieces, sum(widths))
        gumbel_parts = gumbel.split(widths, 1) if gumbel.device == device else None
        for i in range(n):
            state = torch.gru_cell(step_input, state, *self.gru)  # [R, H]
            first = F.linear(state, self.first_weight, self.first_bias)  # [R, C·H + E]: each choice's first layer,
            at = dict(zip(self.first_names, first.split(self.first_widths, dim=1)))  # and each lean's: [R, H] or [R, ·]
            end_bias = end_biases[min(i, 1)] if head.onsets and ends_biased else None
            gumbel.exponential_(generator=rng).log_().neg_()
            noises = gumbel_parts if gumbel_parts is not None else gumbel.to(device).split(widths, 1)
            if restrikes:  # a coin for keeping a note on a sounding key (a Gumbel: uniform()), noise for its redraw
                held_coin, restrike_noise, noises = noises[-3], noises[-2:], noises[:-3]
            if steps:  # the same for keeping a note off the line
                step_coin, step_noise, noises = noises[-3], noises[-2:], noises[:-3]
            if clusters:  # the same for keeping a near note in a chord
                coin, revoice_noise, noises = noises[-3], noises[-2:], noises[:-3]
            *next_noise, kind_noise, key_noise, start_noise, duration_noise, intensity_noise = noises
            if head.onsets:  # join the latest onset, start a new one, or end the chunk, where each is possible …
                limit = join_limit(latest_s, START_STEP_S)  # [R]
                chosen = pick(next_odds(self, at["next"], end_bias, unsilenced, limit, earliest), next_noise[0],
                              guided, guidance, join_lean)  # [R]
                if all_stopped(going, chosen, END, alone):
                    break
                chosen.clamp_(max=ONSET)  # (a row that has stopped draws on unseen)
                for later in CHOICES:  # … which every later choice of the event reads
                    at[later] = at[later] + through["next", later][chosen]
            # time order: no start before the event before (the data's order, so nothing real is masked); with
            # ar.onsets, only the bins that join the latest onset or only those past it, as chosen
            blocked = (~start_allowed(chosen, limit, earliest, head.bins.starts) if head.onsets
                       else self.before_bin.index_select(0, earliest))  # [R, S]: the bins it may not take
            if self.lean_given is not None:  # the leans read the state with the next choice's embedding added
                chosen_through = self.lean_given[chosen].split(self.first_widths[len(self.order):], dim=1)  # [R, ·]
                at.update({name: at[name] + add for name, add in zip(self.first_names[len(self.order):],
                                                                     chosen_through)})
            # [R, 88 keys + 3 pedals + stop] and [R, 88]: the notes', the leans added
            key_logits, note_logits = note_odds(self, at, pointer, items, kernels, heard_voices, register_voice_lean,
                                                register_heard, chunk_bias)
            # a note, a pedal or the stop, at the model's odds (a stop at the first event: the empty chunk) …
            kinds = torch.cat([note_logits.logsumexp(-1, keepdim=True), key_logits[:, NUM_KEYS:]], 1)  # [R, 5]
            kinds = kinds + kind_bias[min(i, 1)]  # (the note's logsumexp, then 3 pedals and the stop)
            if unsilenced is not None and not head.onsets:
                kinds[:, -1] += unsilenced
            kind = pick(kinds, kind_noise, guided, kind_guidance)  # [R]
            if all_stopped(going, kind, KINDS - 1, alone):
                break
            # … and a note's key at the temperature, leaned toward the register being played (ar.register_guard)
            if temperature != 1.0:
                note_logits = note_logits / temperature  # [R, 88]
            if ranged:
                note_logits = register_lean(note_logits, highest, lowest, self.keys, register_margin, register_guard,
                                            register_min_p)
            if echoes:  # … and toward the key that goes on as the last notes' steps went on where they were played before
                note_logits = note_logits + figure_lean(figures, figure_echo, self.keys)
            note = pick(note_logits, key_noise, guided, key_guidance)
            is_note = kind == 0  # [R] (a re-voiced note is still a note)
            any_note = any_of(is_note)
            if unsilenced is not None and any_note:  # a row that strikes a note is silent no more
                unsilenced = unsilenced.masked_fill(is_note, 0.0)
                if not any_of(unsilenced < 0):
                    unsilenced = None
            # every row strikes a note (one piece: whenever any does), and every row still goes: the masks by is_note
            # and by struck below would keep every row, and are skipped
            every_note = any_note and (alone or bool(is_note.all()))
            every_struck = every_note and (alone or bool(going.all()))
            key = note if every_note else torch.where(is_note, note, self.kind_ids[kind])  # [R]
            if any_note and (restrikes or ranged or (guards and not every_struck)):
                struck = going & is_note  # [R]
            if echo is not None and any_note and echo_heard is None:
                echo_heard = echo(pulse_heard)
            echo_lean = echo_heard if any_note else None  # [R, S]; pedals: none
            reads = StartReads(at["start"], state, chosen, pulse_heard, blocked, echo_lean, every_note, note_logits)
            start = pick(start_odds(drawing, reads, key), start_noise, guided, guidance)
            if any_note and (guards or restrikes):  # [R] each: what the guards read of each row's note
                start_s, at_key, joined = read_note(self.start_middles_s, key, start, every_note, latest_s, guards)
            if guards and any_note:
                # whether a row's note joins, or every row's (one piece: as it does): the guard of the notes that join
                # checks none where none does, the lean of those that start one none where all join
                any_joined = any_of(joined)
                every_joined = any_joined and (alone or bool(joined.all()))
            if clusters and any_note and near is None:  # the keys near the latest onset's, kept from note to note
                near = near_keys(onset_keys(heard_s, heard_ids))  # [R, 88]
            if clusters and any_note and any_joined:  # a note joining the onset within 2 semitones of one of its notes …
                clustered = near.gather(1, at_key[:, None])[:, 0]  # [R]
                if not every_joined:
                    clustered &= joined
                if not every_struck:
                    clustered &= struck
                # … is kept at e^−C, else drawn again among the notes that join
                rows = rows_redrawn(clustered, coin, cluster_guard, guided)  # [R'] (guided: both halves) or None
                if rows is not None:
                    key[rows], start[rows] = redraw(drawing, reads, rows, join_bins(self.start_middles_s, latest_s),
                                                    near, cluster_guard, revoice_noise)
                    start_s, at_key, joined = read_note(self.start_middles_s, key, start, every_note, latest_s,
                                                        guards)  # (its rows still join)
            # a note starting a new onset more than 2 semitones from the note before …
            if steps and any_note and not every_joined:
                off_line = self.away[before + 1, at_key]  # [R]
                if any_joined:
                    off_line &= ~joined
                if not every_struck:
                    off_line &= struck
                # … is kept at e^−L, else drawn again among the notes that start a new onset
                rows = rows_redrawn(off_line, step_coin, step_lean, guided)  # [R'] or None
                if rows is not None:
                    key[rows], start[rows] = redraw(drawing, reads, rows, ~join_bins(self.start_middles_s, latest_s),
                                                    self.away[before + 1], step_lean, step_noise)
                    start_s, at_key, joined = read_note(self.start_middles_s, key, start, every_note, latest_s, guards)
            if restrikes and any_note:  # a note on a key still sounding at its start …
                busy = sounding.gather(1, at_key[:, None])[:, 0] > start_s  # [R]
                restruck = busy if every_struck else struck & busy  # [R]
                # … is kept at e^−G, else drawn again, each note on a sounding key at e^−G
                rows = rows_redrawn(restruck, held_coin, restrike_guard, guided)  # [R'] or None
                if rows is not None:
                    busy_notes = self.start_middles_s[None, None, :] < sounding[:, :, None]  # [R, 88, S]
                    key[rows], start[rows] = redraw(drawing, reads, rows, every_bin, unpenalised, restrike_guard,
                                                    restrike_noise, busy_notes)
                    start_s, at_key, joined = read_note(self.start_middles_s, key, start, every_note, latest_s, guards)
            tilt = None  # ar.duration_tilt: notes held longer (β > 0) or shorter; a pedal's press at the model's odds
            if beta is not None:
                tilt = functools.partial(tilted, notes=is_note, beta=beta, log_durations=self.log_durations)
            duration = pick(duration_odds(self, at["duration"], key, start), duration_noise, guided, guidance, tilt)
            intensity_logits = intensity_odds(self, at["intensity"], key, start, duration)  # [R, I]
            if velocity_temperature != 1.0 and any_note:  # a note's velocity, not a pedal's depth
                tempered = intensity_logits / velocity_temperature
                intensity_logits = tempered if every_note else torch.where(is_note[:, None], tempered, intensity_logits)
            intensity = pick(intensity_logits, intensity_noise, guided, guidance)
            event = torch.stack([key, start, duration, intensity], dim=1)  # [R, 4]
            drawn.append(event)
            rows = (event + self.read_offsets).view(-1)  # [R·4]: the event's rows of read_rows and pointer_rows
            if pointer is not None:
                items = pointer.extend(items, key, duration, intensity, len(drawn) - 1,
                                       summed_rows(self.pointer_rows[len(drawn) - 1], rows, r))
            if any_note:  # what the notes heard are kept for (a pedal, in every row, would leave each as it is)
                if voice_lean is not None or head.onsets or hears_onsets or guards:
                    struck_s = start_s if guards or restrikes else self.start_middles_s[start]  # [R]
                    if not every_note:
                        struck_s = torch.where(is_note, struck_s, -torch.inf)
                if clusters and near is not None:  # the latest onset's near keys, as onset_keys' chain finds them
                    # again: a note after the latest one heard by at most ONSET_S adds its own, a later one starts anew
                    # (a pedal's row keeps its own)
                    near_now = self.near_each.index_select(0, at_key) | (near & joined.unsqueeze(1))  # [R, 88]
                    near = near_now if every_note else torch.where(is_note[:, None], near_now, near)
                if voice_lean is not None or head.onsets or guards:
                    latest_s = torch.maximum(latest_s, struck_s)
                if hears_onsets:
                    begins, last_note_s = onset_of(struck_s, last_note_s)  # [R] each
                    if any_of(begins):  # (a note joining the onset leaves the onsets heard)
                        onset_s = struck_s if alone else torch.where(begins, struck_s, -torch.inf)  # [R]
                        pulse_heard, echo_heard = latest(torch.cat([pulse_heard, onset_s[:, None]], dim=1)), None
                        # [R, M]
                if ranged:
                    highest = torch.where(struck, torch.maximum(highest, key.float()), highest)
                    lowest = torch.where(struck, torch.minimum(lowest, key.float()), lowest)
                if voice_lean is not None:
                    heard_voices.add(struck_s, key)
                if steps:
                    before = key if every_struck else torch.where(struck, key, before)  # [R] (a re-drawn note as drawn)
                if restrikes:  # the drawn note sounds until its duration's end
                    ends_s = torch.where(struck, start_s + duration_s_at(duration), -torch.inf)  # [R]
                    sounding = sounding.scatter_reduce(1, at_key[:, None], ends_s[:, None], "amax")
            if echoes and any_note:
                figures = struck_now(figures, key, going & is_note)  # [R, W]
            sizes += going
            earliest = start  # (a row that has stopped draws on unseen: its events past its size are dropped)
            step_input = summed_rows(self.read_rows, rows, r) + bias  # [R, H]: the event as the GRU's next input
        return drawn_sets(head, drawn, sizes, pieces, guided, rng, self.in_bins, device)
