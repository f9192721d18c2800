// markdown.js: an article's body, Markdown to safe HTML (loaded only by the article page).
//
// Two walls. marked turns the Markdown (GitHub's flavour) into HTML, with the HTML an author
// typed into the Markdown shown as text, not as markup: a body is Markdown, and no element,
// attribute or handler of the author's reaches the page. DOMPurify then keeps only inert markup
// of what marked made: no javascript: or data: link or image, no script, no form, no style, no
// frame, whatever marked might let through. Bodies are stored as their authors wrote them, so
// this is the one place between what anyone may write and the reader's page. (Parsing an
// author's raw HTML, even into DOMPurify's inert document, would make the browser report each
// inline handler and style as a Content-Security-Policy violation: the web service's policy
// allows neither. Escaping it first keeps the console clean and the policy strict.)
import DOMPurify from 'dompurify';
import { marked } from 'marked';

const escapeHtml = (s) =>
    s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

marked.use({ gfm: true, breaks: false, renderer: { html: ({ text }) => escapeHtml(text) } });

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A' && node.hasAttribute('href')) {
        node.setAttribute('rel', 'nofollow noopener noreferrer');
        if (/^https?:/i.test(node.getAttribute('href'))) node.setAttribute('target', '_blank');
    }
    if (node.tagName === 'PRE') node.setAttribute('tabindex', '0'); // scrolls sideways: keyboard too
    if (node.tagName === 'IMG') {
        node.setAttribute('loading', 'lazy');
        node.setAttribute('referrerpolicy', 'no-referrer');
        if (!node.hasAttribute('alt')) node.setAttribute('alt', '');
    }
});

const CONFIG = {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'option', 'iframe', 'object', 'embed', 'link', 'meta', 'base', 'svg', 'math'],
    FORBID_ATTR: ['style', 'id', 'name', 'srcset', 'formaction', 'action'],
    RETURN_DOM_FRAGMENT: true,
};

// A DocumentFragment of the body's safe HTML. An image whose address allowImage(src) refuses
// (one the page may not load: see dom.js's safeImage) becomes its alt text. (allowImage is a
// parameter so that this chunk shares no module with the main one: no third file to load.)
export function render(markdown, allowImage) {
    const html = marked.parse(String(markdown ?? ''), { async: false });
    const frag = DOMPurify.sanitize(html, CONFIG);
    for (const img of frag.querySelectorAll('img')) {
        if (!allowImage(img.getAttribute('src'))) img.replaceWith(img.getAttribute('alt') || '');
    }
    return frag;
}
