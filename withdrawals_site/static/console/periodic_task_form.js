// django-celery-beat's periodic-task form script, as a file (templates/admin/djcelery/change_periodictask_form.html).
(function ($) {
    "use strict";
    const readableCrontabs = JSON.parse(document.getElementById("readable-crontabs").textContent);
    const originalCrontabHelp = JSON.parse(document.getElementById("crontab-help").textContent);
    function updateCrontabHelp(additional) {
        const help = $(".field-crontab .help");
        help.text(originalCrontabHelp);
        help.append(document.createElement("br"), document.createTextNode("Translation: " + additional));
    }
    $(".field-crontab_translation").hide();
    $(".field-crontab").change(function () {
        updateCrontabHelp(readableCrontabs[$("#id_crontab").val()]);
    });
})(django.jQuery);
