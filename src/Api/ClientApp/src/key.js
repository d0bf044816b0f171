// The API key the dashboard sends: typed once into the header field and kept in this browser's localStorage.
const storageKey = 'apiKey';

export const apiKey = () => localStorage.getItem(storageKey) || '';

/** Wires the header form: saving a key reloads the page so the job list and the hub start over with it. */
export function wireKeyForm(form, input) {
  input.value = apiKey();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    localStorage.setItem(storageKey, input.value.trim());
    location.reload();
  });
}
