/* CKEditor 4 settings for email templates (loaded through customConfig).
   Handlebars tags ({{var}}, {{#each}}, {{/if}}, ...) are protected source: the editor keeps
   them verbatim and in place instead of treating them as text, which it would move out of
   tables (breaking {{#each}} over table rows). */
CKEDITOR.editorConfig = function (config) {
  config.protectedSource.push(/\{\{[\s\S]*?\}\}/g);
};
