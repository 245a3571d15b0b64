package bulk

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// templateExample is the one example row of both templates. example.com
// never receives mail, so an example row left in by mistake harms nobody,
// and its groups are flagged unless the organization has them.
var templateExample = [NumColumns]string{"ana.pereira@example.com", "Ana", "Pereira", "nl-BE", "Sales; Support", "false", "member"}

// columnHelp explains each column on the XLSX template's "Columns" sheet.
var columnHelp = [NumColumns][2]string{
	{"required", "The invitee's email address, one per row. A repeated address is reported as a duplicate of its first row."},
	{"optional", "Given name, up to 100 characters."},
	{"optional", "Family name, up to 100 characters."},
	{"optional", "Language of the invitation email and pages, as a language code: en, fr, nl-BE, de-CH. Empty: the language chosen on the upload form."},
	{"optional", "Groups the invitee joins, separated by commas or semicolons. Each group must already exist in the organization. Empty: the groups chosen on the upload form."},
	{"optional", "Whether the invitee becomes an administrator: TRUE or FALSE (also yes/no, y/n, 1/0, ja/nee, oui/non). Empty: the choice on the upload form."},
	{"optional", "The invitee's role, one of the organization's roles (for example member or admin). Empty: the role chosen on the upload form."},
}

// WriteTemplateCSV writes the CSV template: the header row and one
// example row, comma-separated, UTF-8 without a byte order mark.
func WriteTemplateCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(columnNames[:])
	_ = cw.Write(templateExample[:])
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("bulk: write csv template: %w", err)
	}
	return nil
}

// WriteTemplateXLSX writes the XLSX template: the sheet "Invitations" with
// a bold, frozen header row and one example row, then a sheet "Columns"
// explaining each column. Open reads the first sheet, so the explanation
// never gets in the way.
func WriteTemplateXLSX(w io.Writer) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bulk: write xlsx template: %w", cerr)
		}
	}()
	if err := buildTemplate(f); err != nil {
		return fmt.Errorf("bulk: write xlsx template: %w", err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("bulk: write xlsx template: %w", err)
	}
	return nil
}

func buildTemplate(f *excelize.File) error {
	const list, help = "Invitations", "Columns"
	if err := f.SetSheetName("Sheet1", list); err != nil {
		return err
	}
	if _, err := f.NewSheet(help); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	header := make([]any, NumColumns)
	example := make([]any, NumColumns)
	for i := range NumColumns {
		header[i], example[i] = columnNames[i], templateExample[i]
	}
	example[ColAdmin] = false // a real boolean cell, as Excel users enter it
	widths := [NumColumns]float64{32, 16, 18, 12, 24, 10, 14}
	steps := []func() error{
		func() error { return f.SetSheetRow(list, "A1", &header) },
		func() error { return f.SetSheetRow(list, "A2", &example) },
		func() error { return f.SetRowStyle(list, 1, 1, bold) },
		func() error {
			return f.SetPanes(list, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
		},
		func() error { return f.SetSheetRow(help, "A1", &[]any{"column", "required", "what to put in it"}) },
		func() error { return f.SetRowStyle(help, 1, 1, bold) },
		func() error { return f.SetColWidth(help, "A", "A", 14) },
		func() error { return f.SetColWidth(help, "B", "B", 10) },
		func() error { return f.SetColWidth(help, "C", "C", 110) },
	}
	for i, wd := range widths {
		col, _ := excelize.ColumnNumberToName(i + 1)
		steps = append(steps, func() error { return f.SetColWidth(list, col, col, wd) })
	}
	for i := range NumColumns {
		cell := fmt.Sprintf("A%d", i+2)
		steps = append(steps, func() error {
			return f.SetSheetRow(help, cell, &[]any{columnNames[i], columnHelp[i][0], columnHelp[i][1]})
		})
	}
	steps = append(steps, func() error {
		return f.SetCellValue(help, fmt.Sprintf("A%d", NumColumns+3),
			"Only the first sheet is read. Headers are matched ignoring case (E-mail, First name and similar also work); other columns are ignored. "+
				"A value in the file overrides the option chosen on the upload form for its row.")
	})
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	return nil
}
