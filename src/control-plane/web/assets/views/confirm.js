// A confirmation dialog on the native <dialog> element; resolves true on confirm.
/* global document */
import { h } from '../dom.js';

export function confirmDialog({ title, body, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const dlg = h(
      'dialog',
      { class: 'dialog', id: 'confirm-dialog' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', {}, title),
        h('p', {}, body),
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { value: 'cancel', class: 'btn', id: 'confirm-cancel' }, 'Cancel'),
          h(
            'button',
            { value: 'ok', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, id: 'confirm-ok' },
            confirm,
          ),
        ),
      ),
    );
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}
