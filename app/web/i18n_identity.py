"""English UI text of the docking pages (identity); merged into app/web/i18n.EN."""
EN = {
}
