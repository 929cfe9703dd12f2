/* CKEditor 4 settings for email templates (loaded through customConfig).
   Handlebars block tags ({{#each}}, {{/each}}, {{#if}}, {{else}}, {{^x}}, partials {{> x}} and
   comments {{! x}}) are protected source: the editor keeps them verbatim and in place instead of
   treating them as text, which it would move out of tables (breaking {{#each}} over table rows).
   Variables ({{customer.first_name}}, {{{html}}}) stay ordinary text, so the WYSIWYG view shows
   them where they are and they can be typed, moved and deleted like words. */
CKEDITOR.editorConfig = function (config) {
  config.protectedSource.push(/\{\{~?\s*(?:[#\/^>!]|else\b)[\s\S]*?\}\}/g);
};
