package mail

import (
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed catalogs/*.json
var catalogFS embed.FS

// languages are the catalogs shipped, English first: it is the last fallback.
var languages = []string{"en", "nl", "fr", "de", "es"}

// locale renders catalog messages in one language.
type locale struct {
	lang string
	loc  *i18n.Localizer
}

// loadLocales parses every embedded catalog into one bundle.
func loadLocales() (map[string]*locale, error) {
	bundle := i18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
	for _, lang := range languages {
		if _, err := bundle.LoadMessageFileFS(catalogFS, path.Join("catalogs", lang+".json")); err != nil {
			return nil, fmt.Errorf("mail: load catalog %s: %w", lang, err)
		}
	}
	locales := make(map[string]*locale, len(languages))
	for _, lang := range languages {
		locales[lang] = &locale{lang: lang, loc: i18n.NewLocalizer(bundle, lang)}
	}
	return locales, nil
}

// catalogIDs returns the message ids of one embedded catalog, sorted.
func catalogIDs(lang string) ([]string, error) {
	b, err := fs.ReadFile(catalogFS, path.Join("catalogs", lang+".json"))
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("mail: catalog %s: %w", lang, err)
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// pick returns the first supported language among the candidates, compared
// by base language so that "nl-BE", "NL_be" and "nl" all give Dutch. Tags that
// do not parse are skipped, never an error: a stored language must not stop
// an email from going out.
func pick(locales map[string]*locale, candidates ...string) *locale {
	for _, c := range candidates {
		for _, tag := range parseTags(c) {
			base, conf := tag.Base()
			if conf != language.Exact {
				continue
			}
			if l, ok := locales[base.String()]; ok {
				return l
			}
		}
	}
	return locales["en"]
}

// parseTags reads one BCP 47 tag, or failing that an Accept-Language list.
func parseTags(s string) []language.Tag {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if tag, err := language.Parse(s); err == nil {
		return []language.Tag{tag}
	}
	tags, _, err := language.ParseAcceptLanguage(s)
	if err != nil {
		return nil
	}
	return tags
}

// text renders a catalog message with plain values. A message missing from
// this language is an error (go-i18n would quietly use English), so a gap in
// a catalog fails tests instead of reaching users half translated.
func (l *locale) text(id string, args map[string]string) (string, error) {
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: args})
	if err != nil {
		return "", fmt.Errorf("mail: catalog %s: %w", l.lang, err)
	}
	return s, nil
}

// html renders a catalog message as HTML. The translation is escaped like
// any text; each value is escaped on its own and, with strong, set in bold.
// The values go in through placeholders after the translation is escaped, so
// neither a translation nor a value can produce markup.
func (l *locale) html(id string, args map[string]string, strong bool) (template.HTML, error) {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	marks := make(map[string]string, len(args))
	pairs := make([]string, 0, 2*len(args))
	for i, k := range keys {
		// Private-use characters never appear in a catalog and pass through
		// escaping unchanged, so they make unambiguous placeholders.
		mark := "\uE000" + strconv.Itoa(i) + "\uE001"
		marks[k] = mark
		v := html.EscapeString(args[k])
		if strong && v != "" {
			v = "<strong>" + v + "</strong>"
		}
		pairs = append(pairs, mark, v)
	}
	s, err := l.text(id, marks)
	if err != nil {
		return "", err
	}
	// One pass of a Replacer never rescans what it inserted, so a value that
	// happens to contain a placeholder stays literal text.
	return template.HTML(strings.NewReplacer(pairs...).Replace(html.EscapeString(s))), nil
}
