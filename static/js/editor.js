/**
 * The program editor: CodeMirror 6 with Python highlighting, line numbers, the server's error
 * underlined in the text (message on hover) and scrolled into view, and a gutter other features
 * mark line by line.
 *
 *   const ed = createEditor(parent, {doc, id, label, onChange, onRun});   id: the text area's id
 *   ed.text / ed.setText(text)            the program
 *   ed.showError({start, end, message})   underline [start, end), scrolled into view when new; null clears it
 *   ed.setGutterMarks([{line, mark: 'ok' | 'wrong' | 'inherits' | 'given', title}])   1-based lines; [] clears them
 *   ed.highlight({start, end, title})    mark [start, end) (a line found wrong); null clears it
 *   ed.reveal(pos)                       put the cursor at pos, scrolled into view, and focus
 * @module editor
 */
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { python } from '@codemirror/lang-python';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { setDiagnostics } from '@codemirror/lint';
import { RangeSet, StateEffect, StateField } from '@codemirror/state';
import { Decoration, EditorView, GutterMarker, gutter, keymap, lineNumbers } from '@codemirror/view';
import { tags } from '@lezer/highlight';

// what each gutter mark shows and says: 'inherits' is a line right in itself that builds on a wrong
// one, 'given' a line of data (the gradient a backward pass starts from), not judged
const MARKS = {
  ok: ['✓', 'correct'], wrong: ['✗', 'wrong'], inherits: ['↑', 'inherits an earlier error'], given: ['•', 'given'],
};

class Mark extends GutterMarker {
  constructor(mark, title) {
    super();
    this.mark = mark;
    this.title = title;
  }

  eq(other) {
    return other.mark === this.mark && other.title === this.title;
  }

  toDOM() {
    const span = document.createElement('span');
    span.className = `cm-mark cm-mark-${this.mark}`;
    const [glyph, said] = MARKS[this.mark] || MARKS.wrong;
    span.textContent = glyph;
    span.title = this.title || '';
    span.setAttribute('aria-label', `${said}: ${this.title || ''}`);
    return span;
  }
}

/** A set of ranges that follows edits of the text and is replaced whole by its effect. */
function replaceable(empty, provide) {
  const set = StateEffect.define();
  const field = StateField.define({
    create: () => empty,
    update(ranges, tr) {
      let next = ranges.map(tr.changes);
      for (const e of tr.effects) if (e.is(set)) next = e.value;
      return next;
    },
    provide,
  });
  return [set, field];
}

const [setMarks, marksField] = replaceable(RangeSet.empty);
const [setHighlight, highlightField] = replaceable(Decoration.none,
  (f) => EditorView.decorations.from(f));

const theme = EditorView.theme({
  '&': { fontSize: '14px', border: '1px solid var(--border)', borderRadius: '4px', background: 'var(--bg)' },
  '&.cm-focused': { outline: '2px solid var(--accent)', outlineOffset: '1px' },
  '.cm-content': { fontFamily: 'var(--mono)', caretColor: 'var(--fg)', minHeight: '6.5em' },
  '.cm-scroller': { fontFamily: 'var(--mono)', maxHeight: '22rem' },
  '.cm-gutters': { background: 'var(--panel)', color: 'var(--muted)', borderRight: '1px solid var(--border)' },
  '.cm-cursor': { borderLeftColor: 'var(--fg)' },
  '.cm-mark': { padding: '0 3px', fontWeight: '700' },
  '.cm-mark-ok': { color: 'var(--ok)' },
  '.cm-mark-wrong': { color: 'var(--bad)' },
  '.cm-mark-inherits, .cm-mark-given': { color: 'var(--muted)' },
  '.cm-highlight': { background: 'var(--error-bg)', boxShadow: '0 -2px 0 var(--bad) inset' },
});

// The code's colours come from the theme (base.css), readable on either background.
const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: 'var(--code-keyword)' },
  { tag: [tags.atom, tags.bool], color: 'var(--code-atom)' },
  { tag: tags.literal, color: 'var(--code-number)' },
  { tag: [tags.string, tags.special(tags.string), tags.escape], color: 'var(--code-string)' },
  { tag: tags.comment, color: 'var(--code-comment)' },
  { tag: tags.invalid, color: 'var(--bad)' },
]);

/**
 * Build the editor inside `parent`. `onChange(text)` runs after each edit by the user (not after
 * setText); `onRun()` on Ctrl/Cmd+Enter.
 */
export function createEditor(parent, { doc = '', id = null, label = 'program', onChange = () => {}, onRun = () => {} } = {}) {
  let quiet = false; // set while the page itself replaces the text
  let errorLine = null; // the line of the error underlined, to scroll to a new one only
  const view = new EditorView({
    parent,
    doc,
    extensions: [
      lineNumbers(),
      gutter({ class: 'cm-marks', markers: (v) => v.state.field(marksField) }),
      marksField,
      highlightField,
      history(),
      keymap.of([
        { key: 'Mod-Enter', run: () => (onRun(), true) },
        ...defaultKeymap, ...historyKeymap,
      ]),
      python(),
      syntaxHighlighting(highlight),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({
        'aria-label': label, spellcheck: 'false', autocapitalize: 'off', ...(id ? { id } : {}),
      }),
      theme,
      EditorView.updateListener.of((u) => {
        if (u.docChanged && !quiet) onChange(u.state.doc.toString());
      }),
    ],
  });

  return {
    view,
    get text() {
      return view.state.doc.toString();
    },
    /** Replace the whole text (keeping the cursor where it can stay), without calling onChange. */
    setText(text) {
      if (text === view.state.doc.toString()) return;
      const head = Math.min(view.state.selection.main.head, text.length);
      quiet = true;
      try {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, selection: { anchor: head } });
      } finally {
        quiet = false;
      }
    },
    /**
     * Underline the error's characters; the message shows on hover. An error on another line than
     * the last one (a new error) is scrolled into view, the caret left where it is. null clears it.
     */
    showError(err) {
      const len = view.state.doc.length;
      const diagnostics = [];
      const effects = [];
      let line = null;
      if (err) {
        const from = Math.max(0, Math.min(err.start ?? len, len));
        let to = Math.max(from, Math.min(err.end ?? from + 1, len));
        if (to === from && from < len) to = from + 1;
        diagnostics.push({ from, to, severity: 'error', message: err.message });
        line = view.state.doc.lineAt(from).number;
        if (line !== errorLine) { // with a line or two of the code around it
          effects.push(EditorView.scrollIntoView(from, { y: 'nearest', yMargin: 2 * view.defaultLineHeight }));
        }
      }
      errorLine = line;
      view.dispatch(setDiagnostics(view.state, diagnostics), { effects });
    },
    /** Mark lines in the gutter: [{line (1-based), mark: 'ok' | 'wrong' | 'inherits' | 'given', title}]; [] clears. */
    setGutterMarks(marks) {
      const doc = view.state.doc;
      const ranges = marks.filter((m) => m.line >= 1 && m.line <= doc.lines)
        .sort((a, b) => a.line - b.line)
        .map((m) => new Mark(m.mark, m.title).range(doc.line(m.line).from));
      view.dispatch({ effects: setMarks.of(RangeSet.of(ranges, true)) });
    },
    /** Put the cursor at `pos`, scrolled into view, and focus the editor. */
    reveal(pos) {
      const at = Math.max(0, Math.min(pos, view.state.doc.length));
      view.dispatch({ selection: { anchor: at }, effects: EditorView.scrollIntoView(at, { y: 'center' }) });
      view.focus();
    },
    /** Mark the characters [start, end) (a line found wrong), `title` on hover; null clears it. */
    highlight(range) {
      const len = view.state.doc.length;
      let set = Decoration.none;
      if (range) {
        const from = Math.max(0, Math.min(range.start, len));
        const to = Math.max(from, Math.min(range.end, len));
        if (to > from) {
          set = Decoration.set([Decoration.mark({
            class: 'cm-highlight', attributes: { title: range.title || '' },
          }).range(from, to)]);
        }
      }
      view.dispatch({ effects: setHighlight.of(set) });
    },
  };
}
